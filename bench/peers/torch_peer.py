"""PyTorch (CUDA, float32, TF32 off) on the shapes of `webtrainer bench kernels`: the native peer on a lent NVIDIA GPU.

Run on the device machine, in the same call as the WebGPU table (bench/gpu/run.sh). Same ops and byte/flop counts
as bench/kernels.ts: matmul GFLOP/s = 2*B*M*K*N / time; softmax x read + y written; layernorm x, y, gamma, beta;
AdamW parameter, gradient, m, v read and parameter, m, v written (torch.optim.AdamW, fused, one parameter group per
trial so each trial has its own learning rate and weight decay, as webtrainer's kernel does). Also a device-to-device
copy (bytes read + written), the same measure as the copy probe.

Timing: CUDA events around a sample of back-to-back runs lasting ~20 ms, median of 7 samples after a warm-up.

    python3 bench/peers/torch_peer.py [--json FILE]
"""

import json
import statistics
import sys

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_float32_matmul_precision("highest")


def time_ms(fn, target_ms=20.0, samples=7):
    """Median milliseconds per call, each sample `runs` calls between two CUDA events."""
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    end.synchronize()
    once = max(start.elapsed_time(end), 1e-3)
    runs = max(1, min(1000, round(target_ms / once)))
    times = []
    for _ in range(samples):
        start.record()
        for _ in range(runs):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / runs)
    return statistics.median(times)


def main():
    device = torch.device("cuda")
    gen = torch.Generator(device=device).manual_seed(1234)

    def rand(*shape):
        return torch.rand(*shape, device=device, generator=gen) * 2 - 1

    rows = []
    matmuls = [(1, 256, 256, 256), (1, 512, 512, 512), (1, 1024, 1024, 1024), (1, 2048, 2048, 2048),
               (1, 4096, 4096, 4096), (8, 256, 64, 64), (1, 2048, 256, 256), (1, 2048, 256, 1024),
               (1, 2048, 1024, 256)]
    for b, m, k, n in matmuls:
        a, bb = (rand(b, m, k), rand(b, k, n)) if b > 1 else (rand(m, k), rand(k, n))
        ms = time_ms(lambda: torch.matmul(a, bb))
        label = f"{b}x{m}x{k}x{n}" if b > 1 else f"{m}x{k}x{n}"
        rows.append({"op": "matmul", "shape": label, "medianMs": ms, "gflops": 2 * b * m * k * n / (ms * 1e6)})
    for r, c in [(4096, 512), (16384, 128)]:
        x = rand(r, c)
        ms = time_ms(lambda: torch.softmax(x, -1))
        rows.append({"op": "softmax", "shape": f"{r}x{c}", "medianMs": ms, "gbps": 2 * r * c * 4 / (ms * 1e6)})
    for r, h in [(8192, 256), (4096, 768)]:
        x, g, bta = rand(r, h), rand(h), rand(h)
        ms = time_ms(lambda: torch.nn.functional.layer_norm(x, (h,), g, bta, 1e-12))
        rows.append({"op": "layernorm", "shape": f"{r}x{h}", "medianMs": ms, "gbps": (2 * r * h + 2 * h) * 4 / (ms * 1e6)})
    for trials, size in [(1, 1 << 22), (8, 1 << 19)]:
        params = [torch.nn.Parameter(rand(size)) for _ in range(trials)]
        for p in params:
            p.grad = rand(size)
        groups = [{"params": [p], "lr": 1e-3 * 2 ** -t, "weight_decay": 0.01 * (t + 1)} for t, p in enumerate(params)]
        opt = torch.optim.AdamW(groups, betas=(0.9, 0.999), eps=1e-8, fused=True)
        ms = time_ms(opt.step)
        rows.append({"op": "adamw", "shape": f"{trials}x{size}", "medianMs": ms, "gbps": 7 * trials * size * 4 / (ms * 1e6)})
    src = rand(64 << 18)  # 64 MiB, as the copy probe
    dst = torch.empty_like(src)
    ms = time_ms(lambda: dst.copy_(src))
    copy_gbps = 2 * src.numel() * 4 / (ms * 1e6)

    report = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "tf32": False,
        "copyGbps": copy_gbps,
        "results": rows,
    }
    print(f"PyTorch {torch.__version__} on {report['device']}, float32, TF32 off; copy {copy_gbps:.0f} GB/s")
    for row in rows:
        rate = f"{row['gflops']:.0f} GFLOP/s" if "gflops" in row else f"{row['gbps']:.0f} GB/s"
        print(f"  {row['op']:9} {row['shape']:16} {row['medianMs']:9.4f} ms  {rate}")
    if "--json" in sys.argv:
        with open(sys.argv[sys.argv.index("--json") + 1], "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
