"""Checks that the tiny Qwen fixtures behave like the published checkpoints they stand for."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors import SafetensorError
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

try:
    from tests.fixtures.tiny_models import (
        ENDOFTEXT,
        FAMILIES,
        GENERATION_DEFAULTS,
        IM_END,
        IM_START,
        QWEN25_DEFAULT_SYSTEM,
        THINK_CLOSE,
        THINK_OPEN,
        TOOL_CALL_CLOSE,
        TOOL_CALL_OPEN,
        build_corrupt_model,
        build_pickle_only_model,
        build_tiny_model,
        chat_template,
        token_ids,
    )
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from fixtures.tiny_models import (  # type: ignore[no-redef]
        ENDOFTEXT,
        FAMILIES,
        GENERATION_DEFAULTS,
        IM_END,
        IM_START,
        QWEN25_DEFAULT_SYSTEM,
        THINK_CLOSE,
        THINK_OPEN,
        TOOL_CALL_CLOSE,
        TOOL_CALL_OPEN,
        build_corrupt_model,
        build_pickle_only_model,
        build_tiny_model,
        chat_template,
        token_ids,
    )

QWEN_TOKENS = [ENDOFTEXT, IM_START, IM_END, THINK_OPEN, THINK_CLOSE, TOOL_CALL_OPEN, TOOL_CALL_CLOSE]
USER_ONLY = [{"role": "user", "content": "Bonjour, how are you?"}]


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny_models")
    return {family: build_tiny_model(family, root / family) for family in FAMILIES}


@pytest.fixture(scope="module")
def tokenizers(model_dirs: dict[str, Path]) -> dict:
    return {family: AutoTokenizer.from_pretrained(path) for family, path in model_dirs.items()}


def _load_model(path: Path):
    return AutoModelForCausalLM.from_pretrained(path, use_safetensors=True, trust_remote_code=False)


@pytest.mark.parametrize("family", FAMILIES)
def test_dir_loads_through_from_pretrained(family: str, model_dirs: dict[str, Path]) -> None:
    """from_pretrained must pick the native Qwen classes from config.json (model_type qwen2/qwen3)
    and tokenizer_config.json (Qwen2Tokenizer, which AutoTokenizer maps for both), with the
    architecture the builder asked for, and the weights must come from model.safetensors."""
    path = model_dirs[family]
    model = _load_model(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    expected_model = {"qwen2.5": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[family]
    assert type(model).__name__ == expected_model
    assert type(tokenizer).__name__ == "Qwen2Tokenizer"
    assert (path / "model.safetensors").is_file()
    assert not (path / "pytorch_model.bin").exists()
    cfg = model.config
    assert (cfg.max_position_embeddings, cfg.num_hidden_layers, cfg.num_attention_heads) == (512, 2, 4)
    assert cfg.num_key_value_heads == 2 < cfg.num_attention_heads  # grouped-query attention, like Qwen
    assert cfg.tie_word_embeddings is True
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    # Embedding rows are padded past the tokenizer, as in the real checkpoints (151936 rows).
    assert cfg.vocab_size >= len(tokenizer)


@pytest.mark.parametrize("family", FAMILIES)
def test_qwen_tokens_are_single_ids(family: str, tokenizers: dict) -> None:
    """Each control token was registered as an added token, so the tokenizer must map it to one
    id (never split by BPE), ids must be distinct, and decoding the id gives the token back."""
    tokenizer = tokenizers[family]
    ids = {}
    for token in QWEN_TOKENS:
        encoded = token_ids(tokenizer, token)
        assert len(encoded) == 1, (token, encoded)
        assert tokenizer.decode(encoded) == token
        ids[token] = encoded[0]
    assert len(set(ids.values())) == len(QWEN_TOKENS)
    # Inside running text the tokens are still matched whole.
    text = f"{IM_START}assistant\n{THINK_OPEN}\nhmm\n{THINK_CLOSE}\n\nok{IM_END}"
    assert token_ids(tokenizer, text).count(ids[THINK_OPEN]) == 1
    assert token_ids(tokenizer, text)[0] == ids[IM_START]


@pytest.mark.parametrize("family", FAMILIES)
def test_eos_pad_and_generation_config_match_published(family: str, model_dirs: dict[str, Path], tokenizers: dict) -> None:
    """The published Instruct/Qwen3 repos stop generation on <|im_end|> or <|endoftext|>, pad with
    <|endoftext|> and ship Qwen's recommended sampling; the builder writes the same shape."""
    tokenizer = tokenizers[family]
    im_end, endoftext = tokenizer.convert_tokens_to_ids(IM_END), tokenizer.convert_tokens_to_ids(ENDOFTEXT)
    assert tokenizer.eos_token == IM_END and tokenizer.eos_token_id == im_end
    assert tokenizer.pad_token == ENDOFTEXT and tokenizer.pad_token_id == endoftext
    assert tokenizer.bos_token is None  # Qwen adds no bos
    model = _load_model(model_dirs[family])
    gen = model.generation_config
    assert list(gen.eos_token_id) == [im_end, endoftext]
    assert gen.pad_token_id == endoftext
    for key, value in GENERATION_DEFAULTS[family].items():
        assert getattr(gen, key) == value, key


@pytest.mark.parametrize("family", FAMILIES)
def test_think_and_tool_tokens_survive_skip_special_tokens(family: str, tokenizers: dict) -> None:
    """In the published tokenizer_config <think>/<tool_call> have special=false while <|im_end|> has
    special=true, so skip_special_tokens drops only the chat markers; reasoning parsers rely on this."""
    tokenizer = tokenizers[family]
    ids = token_ids(tokenizer, f"{THINK_OPEN}plan{THINK_CLOSE}{TOOL_CALL_OPEN}x{TOOL_CALL_CLOSE}{IM_END}")
    decoded = tokenizer.decode(ids, skip_special_tokens=True)
    assert decoded == f"{THINK_OPEN}plan{THINK_CLOSE}{TOOL_CALL_OPEN}x{TOOL_CALL_CLOSE}"


def test_text_roundtrips_through_byte_level_bpe(tokenizers: dict) -> None:
    """Byte-level BPE covers every byte, so any Unicode text (accents, CJK, emoji) must decode back
    exactly, with no unknown token."""
    tokenizer = tokenizers["qwen2.5"]
    text = "Le modèle répond: «déjà vu» — 你好 🙂\n\tdef f(x): return x ** 2"
    assert tokenizer.decode(token_ids(tokenizer, text)) == text


@pytest.mark.parametrize("family", FAMILIES)
def test_saved_template_is_the_vendored_published_one(family: str, tokenizers: dict) -> None:
    """The tokenizer must carry the vendored template unchanged; the fragments checked are the
    ones that distinguish each published template."""
    template = tokenizers[family].chat_template
    assert template == chat_template(family)
    if family == "qwen2.5":
        assert QWEN25_DEFAULT_SYSTEM in template
    else:
        assert "enable_thinking is defined and enable_thinking is false" in template


def test_qwen25_template_injects_default_system_prompt(tokenizers: dict) -> None:
    """Qwen2.5-Instruct's template adds its default system turn when the conversation has none,
    and ends with the assistant header when add_generation_prompt is set."""
    text = tokenizers["qwen2.5"].apply_chat_template(USER_ONLY, tokenize=False, add_generation_prompt=True)
    assert text == (
        f"{IM_START}system\n{QWEN25_DEFAULT_SYSTEM}{IM_END}\n"
        f"{IM_START}user\nBonjour, how are you?{IM_END}\n"
        f"{IM_START}assistant\n"
    )


def test_qwen25_template_uses_given_system_prompt(tokenizers: dict) -> None:
    """A caller's system message replaces the default one (the template's else-branch is skipped)."""
    messages = [{"role": "system", "content": "Be brief."}, *USER_ONLY]
    text = tokenizers["qwen2.5"].apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.startswith(f"{IM_START}system\nBe brief.{IM_END}\n{IM_START}user\n")
    assert QWEN25_DEFAULT_SYSTEM not in text


def test_qwen25_template_tokenized_is_batch_encoding(tokenizers: dict) -> None:
    """transformers 5 returns a BatchEncoding from apply_chat_template(tokenize=True); its ids must
    equal tokenizing the rendered string, since the template emits the control tokens as text."""
    tokenizer = tokenizers["qwen2.5"]
    encoded = tokenizer.apply_chat_template(USER_ONLY, tokenize=True, add_generation_prompt=True)
    rendered = tokenizer.apply_chat_template(USER_ONLY, tokenize=False, add_generation_prompt=True)
    assert list(encoded["input_ids"]) == token_ids(tokenizer, rendered)


@pytest.mark.parametrize("enable_thinking", [None, True, False])
def test_qwen3_template_thinking_switch(enable_thinking: bool | None, tokenizers: dict) -> None:
    """Qwen3's template adds no default system turn, and only enable_thinking=False pre-fills an
    empty <think></think> block after the assistant header (True and absent let the model think)."""
    kwargs = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
    text = tokenizers["qwen3"].apply_chat_template(USER_ONLY, tokenize=False, add_generation_prompt=True, **kwargs)
    assert text.startswith(f"{IM_START}user\nBonjour, how are you?{IM_END}\n")
    header = f"{IM_START}assistant\n"
    if enable_thinking is False:
        assert text.endswith(header + f"{THINK_OPEN}\n\n{THINK_CLOSE}\n\n")
    else:
        assert text.endswith(header)


def test_qwen3_template_with_system_and_history(tokenizers: dict) -> None:
    """A system message is rendered first as given, and reasoning of earlier assistant turns (before
    the last user query) is stripped, keeping only the answer after </think>."""
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": f"{THINK_OPEN}\nadd them\n{THINK_CLOSE}\n\n4"},
        {"role": "user", "content": "3+3?"},
    ]
    text = tokenizers["qwen3"].apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.startswith(f"{IM_START}system\nBe brief.{IM_END}\n")
    assert f"{IM_START}assistant\n4{IM_END}\n" in text
    assert "add them" not in text


@pytest.mark.parametrize("family", FAMILIES)
def test_generate_runs_a_few_tokens(family: str, model_dirs: dict[str, Path], tokenizers: dict) -> None:
    """The random model is a real causal LM: greedy generate on a templated prompt returns the
    prompt ids followed by at most the requested number of new ids, all inside the vocab."""
    tokenizer = tokenizers[family]
    model = _load_model(model_dirs[family])
    inputs = tokenizer.apply_chat_template(USER_ONLY, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    prompt_len = inputs["input_ids"].shape[1]
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert torch.equal(out[0, :prompt_len], inputs["input_ids"][0])
    assert prompt_len < out.shape[1] <= prompt_len + 4
    assert int(out.max()) < model.config.vocab_size


def test_same_seed_same_weights_other_seed_differs(tmp_path: Path) -> None:
    """Init runs under torch.manual_seed(seed), so the seed alone decides the weights."""
    a = _load_model(build_tiny_model("qwen3", tmp_path / "a", seed=3)).state_dict()
    b = _load_model(build_tiny_model("qwen3", tmp_path / "b", seed=3)).state_dict()
    c = _load_model(build_tiny_model("qwen3", tmp_path / "c", seed=4)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["model.embed_tokens.weight"], c["model.embed_tokens.weight"])


def test_builder_leaves_global_rng_untouched(tmp_path: Path) -> None:
    """Seeding happens inside torch.random.fork_rng, so building a model must not reset the
    caller's random stream."""
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_tiny_model("qwen2.5", tmp_path / "m")
    assert torch.equal(torch.rand(3), expected)


def test_max_position_embeddings_is_configurable(tmp_path: Path) -> None:
    """Context-trimming tests shrink the window; the value must reach config.json."""
    path = build_tiny_model("qwen2.5", tmp_path / "short", max_position_embeddings=64)
    assert AutoConfig.from_pretrained(path).max_position_embeddings == 64


def test_unknown_family_is_rejected(tmp_path: Path) -> None:
    """Only the two families with vendored templates can be built."""
    with pytest.raises(ValueError, match="family"):
        build_tiny_model("llama", tmp_path / "x")  # type: ignore[arg-type]


def test_pickle_only_dir_has_no_safetensors(tmp_path: Path) -> None:
    """The pickle-only fixture keeps weights solely in pytorch_model.bin, so a safetensors-only load
    must fail with transformers' missing-file OSError, while a pickle-permitting load finds the
    same tensors as the safetensors twin (so the fixture is a faithful legacy checkpoint)."""
    path = build_pickle_only_model(tmp_path / "pickle")
    assert (path / "pytorch_model.bin").is_file()
    assert not list(path.glob("*.safetensors*"))
    with pytest.raises(OSError, match="model.safetensors"):
        _load_model(path)
    legacy = AutoModelForCausalLM.from_pretrained(path, use_safetensors=False).state_dict()
    twin = _load_model(build_tiny_model("qwen2.5", tmp_path / "twin")).state_dict()
    assert all(torch.equal(legacy[k], twin[k]) for k in twin)


@pytest.mark.parametrize("kind", ["truncated", "garbage"])
def test_corrupt_dir_keeps_config_but_weights_fail(kind: str, tmp_path: Path) -> None:
    """Only model.safetensors is damaged: the config still parses, while reading the weights
    raises safetensors' header error (truncated data or a bogus header)."""
    path = build_corrupt_model(tmp_path / kind, kind=kind)
    assert AutoConfig.from_pretrained(path).model_type == "qwen2"
    with pytest.raises(SafetensorError):
        _load_model(path)
