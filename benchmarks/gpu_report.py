"""Reading and printing benchmarks/gpu_check.py's figures: `nvidia-smi dmon` logs and the table."""

from __future__ import annotations


def mean_sm(text: str) -> float | None:
    """Mean of the `sm` column (SM utilisation, %) of an `nvidia-smi dmon -s u` log; None if empty."""
    cols, vals = None, []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "#":
            cols = cols or (parts[1:] if "sm" in parts[1:] else None)
            continue
        if cols and len(parts) == len(cols) and parts[cols.index("sm")].replace(".", "", 1).isdigit():
            vals.append(float(parts[cols.index("sm")]))
    return sum(vals) / len(vals) if vals else None


def _f(x, fmt: str = "{:.2f}") -> str:
    return "n/a" if x is None else fmt.format(x)


def table(res: dict) -> str:
    """The check's figures as plain-text lines."""
    env = res.get("env", {})
    out = [f"GPU check {env.get('date_utc')}  host {env.get('host')}  {env.get('gpu', 'no GPU')}  "
           f"torch {env.get('torch')} (CUDA {env.get('cuda')})  Python {env.get('python')}  device {env.get('device')}"]
    out.append(f"{'input':>14} {'procs':>5} {'videos':>6} {'video s':>8} {'wall s':>7} {'RTF all':>8} "
               f"{'frames/s':>9} {'RTF/video':>10} {'GPU SM %':>9}")
    for r in res.get("throughput", []):
        if "error" in r:
            out.append(f"{r.get('tag', '?'):>14}  error: {r['error'][:200]}")
            continue
        per = sum(r["rtf_per_video"]) / len(r["rtf_per_video"])
        out.append(f"{r['size']:>14} {r['procs']:>5} {r['videos']:>6} {r['video_s']:>8.1f} {r['wall_s']:>7.1f} "
                   f"{r['rtf_all']:>8.2f} {r['frames_per_s_all']:>9.1f} {per:>10.2f} {_f(r['gpu_sm_pct'], '{:.0f}'):>9}")
    a = res.get("agreement", {})
    if "error" in a:
        out.append(f"agreement: error: {a['error'][:200]}")
    elif a:
        out.append(f"GPU vs CPU: face-seconds {a['face_seconds_dev']} vs {a['face_seconds_cpu']}, max |dp| "
                   f"{a['max_prob_diff']:.4f} (tol {a['tolerance']}), offsets {_f(a['av_offset_dev'], '{:.3f}')} vs "
                   f"{_f(a['av_offset_cpu'], '{:.3f}')} -> {'AGREE' if a['agree'] else 'DIFFER'}")
    for d in res.get("detector", []) if isinstance(res.get("detector"), list) else []:
        out.append(f"detector {d['video']}: stock MTCNN {d['stock_ms_per_frame']:.1f} ms/frame ({d['stock_faces']} faces)"
                   f"  ours {d['ours_ms_per_frame']:.1f} ms/frame ({d['ours_faces']} faces)")
    e = res.get("explain", {})
    if "none" in e:
        out.append(f"explain: none {e['none']['analysis_s']:.2f} s, sample {e['sample']['analysis_s']:.2f} s "
                   f"(+{e['extra_s']:.2f} s; {e['sample']['status']} {e['sample']['error'] or ''})")
    for rt, r in (res.get("runtimes") or {}).items():
        out.append(f"runtime {rt}: " + (f"{r['analysis_s']:.2f} s ({r['runtime']})" if "analysis_s" in r else r.get("error", "")))
    for k, v in res.items():
        if isinstance(v, dict) and "error" in v and k not in ("agreement",):
            out.append(f"{k}: error: {v['error'][:300]}")
    return "\n".join(out)
