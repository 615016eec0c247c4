"""SelfAttention and MultiHeadSelfAttention against plain matrix implementations."""

import math

import pytest
import torch
import torch.nn.functional as F

from zi2zi_lessons import MultiHeadSelfAttention, SelfAttention, self_attention_parameter_count


def sagan_by_hand(block: SelfAttention, x: torch.Tensor, scaled: bool) -> torch.Tensor:
    """The SAGAN block written with bmm + softmax, as the papers and the seeds do."""
    b, c, h, w = x.shape
    q = block.query(x).view(b, -1, h * w).permute(0, 2, 1)  # (B, N, C/8)
    k = block.key(x).view(b, -1, h * w)  # (B, C/8, N)
    v = block.value(x).view(b, -1, h * w)  # (B, C, N)
    energy = torch.bmm(q, k)
    if scaled:
        energy = energy / math.sqrt(c // 8)
    weights = torch.softmax(energy, dim=-1)  # over keys
    out = torch.bmm(v, weights.permute(0, 2, 1)).view(b, c, h, w)
    return block.gamma * out + x


@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("channels,height,width", [(8, 1, 1), (16, 3, 5), (64, 8, 8), (32, 16, 16)])
def test_self_attention_equals_matrix_version(scaled, channels, height, width):
    torch.manual_seed(0)
    block = SelfAttention(channels, scaled=scaled)
    with torch.no_grad():
        block.gamma.fill_(0.7)
    x = torch.randn(3, channels, height, width)
    expected = sagan_by_hand(block, x, scaled)
    assert torch.allclose(block(x), expected, atol=1e-5, rtol=1e-5)


def test_scaled_and_unscaled_differ_when_the_map_has_several_pixels():
    torch.manual_seed(0)
    unscaled = SelfAttention(64)
    scaled = SelfAttention(64, scaled=True)
    scaled.load_state_dict(unscaled.state_dict())
    x = torch.randn(2, 64, 4, 4)
    assert not torch.allclose(unscaled.attend(x), scaled.attend(x), atol=1e-4)
    assert scaled.energy_scale == pytest.approx(1 / math.sqrt(8))


def test_gamma_zero_is_identity():
    torch.manual_seed(1)
    block = SelfAttention(32)
    x = torch.randn(2, 32, 6, 6)
    assert block.gamma.item() == 0.0
    assert torch.equal(block(x), x)


def test_one_pixel_map_is_value_plus_input():
    torch.manual_seed(2)
    block = SelfAttention(16)
    with torch.no_grad():
        block.gamma.fill_(-1.3)
    x = torch.randn(4, 16, 1, 1)
    assert torch.allclose(block(x), block.gamma * block.value(x) + x, atol=1e-6)


@pytest.mark.parametrize("channels", [8, 12, 20, 64, 256, 512])
def test_parameter_formula(channels):
    counted = sum(p.numel() for p in SelfAttention(channels).parameters())
    c, k = channels, channels // 8  # query and key width, rounded down as SAGAN does
    assert counted == 2 * (c * k + k) + c * c + c + 1
    assert self_attention_parameter_count(channels) == counted


def test_attention_map_rows_sum_to_one_and_match_the_output():
    torch.manual_seed(3)
    block = SelfAttention(16)
    x = torch.randn(2, 16, 4, 4)
    weights = block.attention_map(x)
    assert weights.shape == (2, 16, 16)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 16), atol=1e-6)
    value = block.value(x).flatten(2)
    by_map = torch.bmm(value, weights.transpose(1, 2)).view_as(x)
    assert torch.allclose(block.attend(x), by_map, atol=1e-5)


@pytest.mark.parametrize("channels", [0, -8, 1, 4, 7])
def test_self_attention_rejects_channels(channels):
    with pytest.raises(ValueError, match=rf"channels={channels}"):
        SelfAttention(channels)


def test_self_attention_takes_any_width_from_8_with_query_and_key_rounded_down():
    """SAGAN's C // 8: 12 channels give a 1-channel query and key; below 8 they would be empty."""
    block = SelfAttention(12)
    assert (block.key_channels, block.query.out_channels, block.key.out_channels) == (1, 1, 1)
    with pytest.raises(ValueError, match=r"channels=7.*channels // 8 = 0.*cannot run"):
        SelfAttention(7)


def test_self_attention_rejects_wrong_input_channels():
    with pytest.raises(ValueError, match="16 channels.*built for 32"):
        SelfAttention(32)(torch.randn(1, 16, 2, 2))


def multi_head_by_hand(block: MultiHeadSelfAttention, x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    heads, d = block.num_heads, c // block.num_heads
    q, k, v = block.qkv(block.norm(x)).chunk(3, dim=1)
    q, k, v = (t.reshape(b * heads, d, h * w) for t in (q, k, v))
    weights = torch.softmax(torch.bmm(q.transpose(1, 2), k) / math.sqrt(d), dim=-1)
    out = torch.bmm(weights, v.transpose(1, 2))  # (B*heads, N, d)
    out = out.transpose(1, 2).reshape(b, c, h, w)
    return x + block.proj(out)


@pytest.mark.parametrize("channels,heads,groups,size", [(64, 8, 32, 4), (32, 4, 8, 5), (16, 1, 16, 3)])
def test_multi_head_equals_matrix_version(channels, heads, groups, size):
    torch.manual_seed(4)
    block = MultiHeadSelfAttention(channels, num_heads=heads, num_groups=groups)
    x = torch.randn(2, channels, size, size)
    assert torch.allclose(block(x), multi_head_by_hand(block, x), atol=1e-5)


def test_multi_head_parameters():
    c = 64
    counted = sum(p.numel() for p in MultiHeadSelfAttention(c).parameters())
    assert counted == 2 * c + (c * 3 * c + 3 * c) + (c * c + c)  # GroupNorm, qkv, proj


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        (dict(channels=60, num_heads=8, num_groups=4), "num_heads=8"),
        (dict(channels=48, num_heads=8, num_groups=32), "num_groups=32"),
        (dict(channels=0), "channels=0"),
        (dict(channels=64, num_heads=0), "num_heads=0"),
    ],
)
def test_multi_head_rejects_channels(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        MultiHeadSelfAttention(**kwargs)


def test_sdpa_matches_sagan_with_scale_one():
    """The fact the block relies on: one head, key width C/8, value width C, scale=1."""
    torch.manual_seed(5)
    q, k, v = torch.randn(2, 10, 4), torch.randn(2, 10, 4), torch.randn(2, 10, 32)
    expected = torch.softmax(q @ k.transpose(1, 2), dim=-1) @ v
    assert torch.allclose(F.scaled_dot_product_attention(q, k, v, scale=1.0), expected, atol=1e-6)


# ---------------------------------------------------------------- SelfAttention's two paths
# attend() stores the N x N weights on small maps and runs the fused kernel on larger
# ones; a block's stored_weights_max_pixels can be set to force either path.
PATHS = {"matrix": 10**9, "fused": 0}


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("channels,height,width", [(8, 1, 1), (8, 3, 5), (12, 3, 5), (24, 7, 3), (20, 7, 3), (64, 9, 9), (16, 17, 17), (40, 19, 15), (12, 33, 33)])
def test_attend_equals_matrix_version_and_so_do_gradients(path, scaled, channels, height, width):
    torch.manual_seed(6)
    block = SelfAttention(channels, scaled=scaled)
    block.stored_weights_max_pixels = PATHS[path]
    with torch.no_grad():
        block.gamma.fill_(0.9)
        # Larger weights give peaked softmaxes: unscaled energies are the hard case.
        block.query.weight.mul_(3.0)
        block.key.weight.mul_(3.0)
    x = torch.randn(2, channels, height, width, requires_grad=True)
    upstream = torch.randn(2, channels, height, width)

    out = block(x)
    grads = torch.autograd.grad((out * upstream).sum(), [x, *block.parameters()])
    matrix_out = sagan_by_hand(block, x, scaled)
    matrix_grads = torch.autograd.grad((matrix_out * upstream).sum(), [x, *block.parameters()])

    assert torch.allclose(out, matrix_out, atol=1e-5, rtol=1e-4)
    for grad, matrix_grad in zip(grads, matrix_grads):
        assert torch.allclose(grad, matrix_grad, atol=1e-4, rtol=1e-4)


def attention_ops(block, x):
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        block.attend(x).sum().backward()
    return {event.key for event in prof.key_averages()}


def test_large_maps_run_the_fused_kernel_and_never_store_the_matrix():
    block = SelfAttention(32)
    ops = attention_ops(block, torch.randn(1, 32, 32, 33, requires_grad=True))  # 1,056 pixels > 1,024
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" in ops
    assert "aten::_scaled_dot_product_flash_attention_for_cpu_backward" in ops
    assert "aten::_scaled_dot_product_attention_math" not in ops
    assert "aten::bmm" not in ops


def test_small_maps_store_the_matrix():
    block = SelfAttention(32)
    ops = attention_ops(block, torch.randn(1, 32, 32, 32, requires_grad=True))  # 1,024 pixels
    assert "aten::_scaled_dot_product_attention_math" in ops
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" not in ops


def test_fused_attention_in_double_precision_passes_gradcheck():
    from zi2zi_lessons.attention import fused_attention

    torch.manual_seed(7)
    query = torch.randn(1, 5, 2, dtype=torch.float64, requires_grad=True)
    key = torch.randn(1, 5, 2, dtype=torch.float64, requires_grad=True)
    value = torch.randn(1, 5, 16, dtype=torch.float64, requires_grad=True)
    expected = torch.softmax(query @ key.transpose(1, 2) * 0.5, dim=-1) @ value
    assert torch.allclose(fused_attention(query, key, value, 0.5), expected, atol=1e-12)
    assert torch.autograd.gradcheck(lambda q, k, v: fused_attention(q, k, v, 0.5), (query, key, value))


def test_fused_attention_rejects_a_query_wider_than_the_value():
    from zi2zi_lessons.attention import fused_attention

    with pytest.raises(ValueError, match="query 8, key 8, value 4"):
        fused_attention(torch.randn(1, 3, 8), torch.randn(1, 3, 8), torch.randn(1, 3, 4), 1.0)


def test_multi_head_runs_the_fused_kernel():
    from torch.profiler import ProfilerActivity, profile

    block = MultiHeadSelfAttention(64)
    x = torch.randn(1, 64, 8, 8, requires_grad=True)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        block(x).sum().backward()
    ops = {event.key for event in prof.key_averages()}
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" in ops
    assert "aten::_scaled_dot_product_attention_math" not in ops
