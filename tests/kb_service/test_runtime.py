"""The runtime's start-up helpers."""

from __future__ import annotations


def test_routing_examples_are_encoded_at_start(runtime) -> None:
    calls: list[int] = []
    encoder = runtime.encoder
    original = encoder.encode_queries

    def counting(texts):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return original(texts)

    encoder.encode_queries = counting  # type: ignore[method-assign]
    assert runtime.warm_up_routing() == 8  # four emergency example lists, four contrast lists
    encoded = sum(calls)
    assert encoded > 200  # every example sentence of the bundled rules
    runtime.warm_up_routing()
    assert sum(calls) == encoded  # the second time nothing is encoded again


def test_no_warm_up_when_routing_similarity_is_off(runtime) -> None:
    runtime.settings.routing_similarity = False
    assert runtime.warm_up_routing() == 0
