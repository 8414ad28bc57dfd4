"""Forward + backward shape checks for every block, and closed-form parameter counts."""
import pytest
import torch

from archlab.blocks import (BLOCKS, DASP, ECA, HEADS, SC, SCR, SE, SEM, BasicBlock, Bottleneck, ConvBNAct,
                            ConditionalChannelWeighting, CrossResolutionWeighting, LiteStem, PositionAttention,
                            ShuffleBlock, SpatialWeighting, channel_shuffle, create_attn, eca_kernel_size)
from archlab.blocks.sc import check_sc_split


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def fwd_bwd(m, *xs):
    xs = [x.requires_grad_(True) for x in xs]
    out = m(*xs) if len(xs) > 1 or not isinstance(xs[0], list) else m(xs[0])
    outs = out if isinstance(out, list) else [out]
    sum(o.float().pow(2).mean() for o in outs).backward()
    for x in xs:
        assert x.grad is not None and x.grad.shape == x.shape
    return out


@pytest.mark.parametrize("cin,width,stride,hw", [(16, 16, 1, (9, 7)), (16, 32, 2, (8, 6)), (8, 8, 1, (5, 5))])
@pytest.mark.parametrize("cls", [BasicBlock, Bottleneck])
def test_resnet_blocks_shapes(cls, cin, width, stride, hw):
    m = cls(cin, width, stride)
    out = fwd_bwd(m, torch.randn(2, cin, *hw))
    h, w = hw
    assert out.shape == (2, width * cls.expansion, (h - 1) // stride + 1, (w - 1) // stride + 1)


def test_basic_block_params_closed_form():
    for c in (8, 32, 64):
        assert n_params(BasicBlock(c, c)) == 18 * c * c + 4 * c   # two 3x3 convs + two BNs
    # with a projection shortcut: + 1x1 conv + BN
    assert n_params(BasicBlock(16, 32)) == 9 * 16 * 32 + 9 * 32 * 32 + 4 * 32 + 16 * 32 + 2 * 32


@pytest.mark.parametrize("reweight", ["se", "eca", "none"])
@pytest.mark.parametrize("ratio,c", [(0.5, 32), (0.25, 32), (0.5, 18)])
@pytest.mark.parametrize("kernel,cheap", [(3, 3), (5, 3), (3, 5), (1, 3)])
def test_sc_variants(reweight, ratio, c, kernel, cheap):
    m = SC(c, c, kernel=kernel, cheap_kernel=cheap, ratio=ratio, reweight=reweight)
    out = fwd_bwd(m, torch.randn(2, c, 7, 5))
    assert out.shape == (2, c, 7, 5)
    p = int(c * ratio)
    expected = kernel * kernel * c * p + 2 * p + cheap * cheap * (c - p) + 2 * (c - p)
    if reweight == "se":
        hid = c // 4
        expected += c * hid + hid + hid * c + c
    elif reweight == "eca":
        expected += eca_kernel_size(c)
    assert n_params(m) == expected


def test_sc_primary_and_cheap_halves():
    """Eq. (1)-(3): the first c/2 output channels are the primary conv, the rest its depthwise conv."""
    m = SC(8, 8, reweight="none").eval()
    x = torch.randn(1, 8, 5, 5)
    y = m(x)
    prim = m.primary(x)
    torch.testing.assert_close(y[:, :4], prim)
    torch.testing.assert_close(y[:, 4:], m.cheap(prim))


def test_scr_residual_and_params_eq12():
    c = 32
    m = SCR(c, c)
    out = fwd_bwd(m, torch.randn(2, c, 8, 6))
    assert out.shape == (2, c, 8, 6)
    # eq. (12) without BN/bias terms: (k^2 + 1/2) c^2 + k'^2 c  (k = k' = 3), plus SE biases, BN, ECA
    conv_and_fc = 2 * (9 * c * c // 2 + 9 * c // 2) + 2 * c * (c // 4)
    assert conv_and_fc == int((9 + 0.5) * c * c + 9 * c)
    bn = 4 * c
    extra = (c // 4 + c) + eca_kernel_size(c)
    assert n_params(m) == conv_and_fc + bn + extra
    # stride and width change use a projection shortcut
    assert fwd_bwd(SCR(16, 32, stride=2), torch.randn(1, 16, 8, 8)).shape == (1, 32, 4, 4)
    # one-unit variant
    assert len(SCR(16, 16, reweight=("eca",)).units) == 1


def test_scr_output_is_relu_of_residual_sum():
    m = SCR(8, 8).eval()
    x = torch.randn(1, 8, 4, 4)
    torch.testing.assert_close(m(x), torch.relu(m.units(x) + x))


def test_sc_split_errors():
    with pytest.raises(ValueError, match="even"):
        check_sc_split(33, 0.5)
    with pytest.raises(ValueError, match="cannot be split"):
        check_sc_split(32, 0.375)  # 12 primary, 20 cheap: not a multiple


def test_eca_kernel_rule_eq5():
    # t = int(|(log2 c + 1) / 2|), made odd
    assert [eca_kernel_size(c) for c in (2, 8, 16, 32, 64, 128, 256, 512)] == [1, 3, 3, 3, 3, 5, 5, 5]
    assert eca_kernel_size(1024) == 5 and eca_kernel_size(2 ** 13) == 7
    with pytest.raises(ValueError):
        eca_kernel_size(0)


def test_attention_modules():
    x = torch.randn(2, 64, 6, 5)
    for m in (SE(64), ECA(64), ECA(64, gate="hardsigmoid"), SEM(64), PositionAttention(64)):
        assert fwd_bwd(m, x.clone()).shape == x.shape
    assert n_params(SE(64)) == 64 * 16 + 16 + 16 * 64 + 64
    assert n_params(ECA(64)) == 3
    # position attention: q, k (c -> c/8, bias), v (c -> c, bias), scale
    assert n_params(PositionAttention(64)) == 2 * (64 * 8 + 8) + 64 * 64 + 64 + 1
    assert create_attn("none", 8) is None
    with pytest.raises(ValueError, match="unknown attention"):
        create_attn("cbam", 8)
    with pytest.raises(ValueError, match="gate"):
        ECA(8, gate="tanh")


def test_position_attention_starts_as_identity_and_sem_sums_branches():
    m = PositionAttention(16).eval()
    x = torch.randn(1, 16, 4, 3)
    torch.testing.assert_close(m(x), x)  # scale initialised to 0
    s = SEM(16).eval()
    torch.testing.assert_close(s(x), s.channel(x) + s.spatial(x))
    w = torch.nn.functional.hardsigmoid(s.channel.conv(x.mean((2, 3))[:, None])[:, 0])
    torch.testing.assert_close(s.channel(x), x * w[:, :, None, None])


def test_dasp_dense_connectivity_and_shapes():
    m = DASP(32, 256, 17, rates=(1, 6, 12, 18), growth=8)
    assert [c.conv.in_channels for c in m.dense] == [32, 40, 48, 56]
    assert [c.conv.dilation[0] for c in m.dense] == [1, 6, 12, 18]
    out = fwd_bwd(m, torch.randn(1, 32, 16, 12), torch.randn(1, 256, 16, 12))
    assert out.shape == (1, 17, 16, 12)
    with pytest.raises(ValueError, match="rates"):
        DASP(32, 256, 17, rates=())


def test_lite_blocks():
    assert fwd_bwd(LiteStem(3, 32, 32), torch.randn(1, 3, 32, 32)).shape == (1, 32, 8, 8)
    assert fwd_bwd(ShuffleBlock(30, 30), torch.randn(1, 30, 8, 8)).shape == (1, 30, 8, 8)
    assert fwd_bwd(SpatialWeighting(20), torch.randn(1, 20, 4, 4)).shape == (1, 20, 4, 4)
    outs = CrossResolutionWeighting([20, 40], 8)([torch.randn(1, 20, 8, 8), torch.randn(1, 40, 4, 4)])
    assert [o.shape[1:] for o in outs] == [(20, 8, 8), (40, 4, 4)]
    m = ConditionalChannelWeighting([40, 80, 160])
    xs = [torch.randn(1, 40, 8, 8), torch.randn(1, 80, 4, 4), torch.randn(1, 160, 2, 2)]
    outs = m([x.requires_grad_(True) for x in xs])
    sum(o.sum() for o in outs).backward()
    assert [o.shape for o in outs] == [x.shape for x in xs]
    with pytest.raises(ValueError, match="even"):
        ShuffleBlock(31, 31)


def test_channel_shuffle_is_a_permutation():
    x = torch.arange(8.).view(1, 8, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]


def test_heads():
    xs = [torch.randn(1, 40, 16, 12), torch.randn(1, 80, 8, 6)]
    llf = torch.randn(1, 32, 16, 12)
    for name, cls in HEADS.items():
        h = cls([40, 80], 32, 17)
        out = h([x.clone().requires_grad_(True) for x in xs], llf)
        out.sum().backward()
        assert out.shape == (1, 17, 16, 12), name


def test_conv_bn_act_options():
    m = ConvBNAct(4, 8, 3, dilation=2)
    assert m.conv.padding == (2, 2) and m(torch.zeros(1, 4, 9, 9)).shape == (1, 8, 9, 9)
    assert ConvBNAct(4, 8, 1, norm=False).conv.bias is not None
    with pytest.raises(ValueError, match="unknown act"):
        ConvBNAct(4, 8, act="gelu")


def test_meta_device_blocks():
    for name, cls in BLOCKS.items():
        m = cls([8, 16], device="meta") if getattr(cls, "multi_branch", False) else cls(16, 16, device="meta")
        assert all(p.device.type == "meta" for p in m.parameters()), name


def _randomise_bn(m):
    for b in m.modules():
        if isinstance(b, torch.nn.BatchNorm2d):
            for t in (b.weight, b.bias, b.running_mean):
                t.data.uniform_(-1, 1)
            b.running_var.data.uniform_(0.5, 2.0)
    return m


@pytest.mark.parametrize("cin,width,stride", [(16, 16, 1), (8, 16, 1), (16, 16, 2), (8, 12, 2)])
def test_repvgg_reparameterize_equals_the_branches(cin, width, stride):
    from archlab.blocks.repvgg import RepVGGBlock
    torch.manual_seed(1)
    m = _randomise_bn(RepVGGBlock(cin, width, stride)).eval()
    assert (m.identity is not None) == (cin == width and stride == 1)
    x = torch.randn(2, cin, 9, 7)
    with torch.no_grad():
        y = m(x)
        m.reparameterize()
        assert m.dense is None and m.fused.kernel_size == (3, 3) and m.fused.bias is not None
        assert torch.allclose(m(x), y, atol=1e-5, rtol=1e-5) and y.abs().max() > 0.1
    fresh = RepVGGBlock(cin, width, stride, deploy=True)     # the deploy option builds the same form
    assert {k: v.shape for k, v in fresh.state_dict().items()} == {k: v.shape for k, v in m.state_dict().items()}


def test_mbconv_structure_and_residual():
    from archlab.blocks.mbconv import MBConv
    m = MBConv(16, 16, expand_ratio=4, kernel=5, se=True).eval()
    assert m.expand.conv.out_channels == 64 and m.depthwise.conv.groups == 64
    assert m.depthwise.conv.kernel_size == (5, 5) and m.se.fc1.out_features == 16
    assert not hasattr(m.project, "act")                        # linear bottleneck
    x = torch.randn(1, 16, 6, 6)
    with torch.no_grad():
        assert torch.allclose(m(x) - x, m.project(m.se(m.depthwise(m.expand(x)))), atol=1e-6)
    assert MBConv(16, 16, expand_ratio=1).expand is None
    assert not MBConv(8, 16).residual and not MBConv(16, 16, 2).residual
    with pytest.raises(ValueError, match="kernel a positive odd size"):
        MBConv(16, 16, kernel=4)


# ----------------------------------------------------------------------------------------------
# SE / ECA export formulations (issue 10 item 5): the same function as the eager forward, built
# from operators ONNX Runtime keeps in its blocked (NCHWc) layout.

def _randomise(m, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return m.eval()


def _reference_se(m, x):
    """SE written out from the paper (eq. 6) with plain tensor algebra."""
    s = x.mean(dim=(2, 3))
    h = torch.relu(s @ m.fc1.weight.T + m.fc1.bias)
    return x * torch.sigmoid(h @ m.fc2.weight.T + m.fc2.bias)[:, :, None, None]


def _reference_eca(m, x):
    """ECA written out: out[c] = sum_t w[t] * GAP(x)[c + t - k // 2] (zero outside), gated."""
    s, w = x.mean(dim=(2, 3)), m.conv.weight.reshape(-1)
    k, c = w.numel(), x.shape[1]
    y = torch.zeros_like(s)
    for t in range(k):
        for ch in range(c):
            j = ch + t - k // 2
            if 0 <= j < c:
                y[:, ch] += w[t] * s[:, j]
    gate = torch.sigmoid(y) if m.gate == "sigmoid" else torch.nn.functional.hardsigmoid(y)
    return x * gate[:, :, None, None]


@pytest.mark.parametrize("channels,reduction,hw", [(32, 4, (8, 6)), (40, 4, (5, 7)), (64, 8, (1, 3)), (256, 4, (4, 3))])
def test_se_export_formulation_equals_eager(channels, reduction, hw):
    m = _randomise(SE(channels, reduction))
    x = torch.randn(2, channels, *hw)
    with torch.no_grad():
        ref, eager, conv = _reference_se(m, x), m(x), m.forward_conv(x)
    assert torch.allclose(eager, ref, atol=1e-5, rtol=0)
    assert torch.allclose(conv, ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("channels,gamma,gate", [(16, 2, "sigmoid"), (64, 2, "hardsigmoid"), (256, 2, "sigmoid"),
                                                 (48, 1, "sigmoid")])
def test_eca_export_formulation_equals_eager(channels, gamma, gate):
    m = _randomise(ECA(channels, gamma=gamma, gate=gate))
    x = torch.randn(2, channels, 5, 4)
    with torch.no_grad():
        ref, eager, conv = _reference_eca(m, x), m(x), m.forward_conv(x)
    assert m.conv.kernel_size[0] == eca_kernel_size(channels, gamma)
    assert torch.allclose(eager, ref, atol=1e-5, rtol=0)
    assert torch.allclose(conv, ref, atol=1e-5, rtol=0)


def test_eca_band_matches_conv1d_and_rejects_even_kernels():
    from archlab.blocks.attention import eca_band
    taps, v = torch.randn(5), torch.randn(3, 11)
    band = eca_band(taps, 11)
    ref = torch.nn.functional.conv1d(v[:, None], taps.view(1, 1, 5), padding=2)[:, 0]
    assert torch.allclose(v @ band.T, ref, atol=1e-6)
    assert band[0, 3] == 0 and band[0, 2] == taps[4] and band[5, 3] == taps[0]
    with pytest.raises(ValueError, match="odd"):
        eca_band(torch.randn(4), 8)


def _ort_graph(m, x, tmp_path):
    """(exported op types, ORT-optimised op types, ORT output) of ``m`` on ``x``."""
    import collections
    import onnx
    from archlab.cost.runtime import export_onnx, ort_session
    data = export_onnx(m, x)
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = str(tmp_path / "opt.onnx")
    so.log_severity_level = 3
    ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    exported = collections.Counter(n.op_type for n in onnx.load_from_string(data).graph.node)
    optimised = collections.Counter(n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node)
    sess = ort_session(data)
    return exported, optimised, sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]


@pytest.mark.parametrize("reweight", [("se", "eca"), ("eca", "eca")])
def test_scr_exports_without_layout_breaking_ops(reweight, tmp_path):
    """SCR with SE/ECA exports to GlobalAveragePool / Conv / Upsample / same-shape Mul (no ReduceMean,
    Gemm, Unsqueeze, Gather), ONNX Runtime keeps the whole block in one layout (at most the
    reorders at its input and output), and the ONNX output equals eager."""
    m = _randomise(SCR(32, 32, reweight=reweight))
    x = torch.randn(1, 32, 16, 12)
    exported, optimised, out = _ort_graph(m, x, tmp_path)
    assert not {"ReduceMean", "Gemm", "Unsqueeze", "Gather"} & set(exported), exported
    assert exported["GlobalAveragePool"] == 2 and exported["Resize"] == 2, exported
    assert optimised["ReorderInput"] + optimised["ReorderOutput"] <= 2, optimised
    with torch.no_grad():
        ref = m(x).numpy()
    assert abs(out - ref).max() <= 1e-5 * max(1.0, abs(ref).max())
    assert not torch.onnx.is_in_onnx_export()          # eager keeps the module calls the counters hook
