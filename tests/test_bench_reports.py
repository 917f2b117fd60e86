"""bench/conv_layers.py and bench/simd_width.py: their counting, checked against independent
sources (the conv bench's step FLOPs; hand-written assembly)."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import bench_convnet  # noqa: E402
import conv_layers  # noqa: E402
from simd_width import register_counts  # noqa: E402


@pytest.mark.parametrize("net", ["simpleconvnet", "deepconvnet"])
def test_layer_flops_add_up_to_the_steps(net):
    """The per-layer FLOPs of the profile sum to the conv bench's step FLOPs (the issue's 433
    and 5 241 MFLOP)."""
    rows, _ = conv_layers.profile(net, "float64", steps=1)
    total = sum(sum(conv_layers.layer_flops(step.layer, shape, i == 0))
                for i, (step, shape, _, _) in enumerate(rows))
    assert total == bench_convnet.step_flops(net)


def test_register_counts_take_each_instruction_once_at_its_widest():
    asm = "\n".join(["vaddpd %zmm1, %zmm2, %zmm3", "vcvtps2pd %ymm0, %zmm1",
                     "vmulpd %ymm1, %ymm2, %ymm3", "vaddsd %xmm0, %xmm1, %xmm1",
                     "movq %rax, %rbx", "# xmm0 in a comment counts too: it names one"])
    assert register_counts(asm) == {"zmm": 2, "ymm": 1, "xmm": 2}


def test_conv_layers_command_prints_a_table(tmp_path):
    out = tmp_path / "layers.md"
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "conv_layers.py"), "--net",
                           "simpleconvnet", "--steps", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert "Convolution+Relu" in text and "compute floor" in text
    assert text == proc.stdout
