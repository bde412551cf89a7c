"""The scenario report as text (the JSON form is the report dict itself)."""

from __future__ import annotations

from typing import Any

__all__ = ["format_report"]


def _fmt(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_report(report: dict[str, Any]) -> str:
    """A human-readable summary of `run_scenario`'s report."""
    lines = [
        "",
        "=== three-hospital scenario over quantum-keyed links ===",
        f"transport: {report['transport']}   key source: {report['key_source']}   "
        f"total: {report['total_s']:.1f} s",
        "",
        "QKD links:",
    ]
    for link in report["links"]:
        lines.append(
            f"  {link['link']:<28} QBER {_fmt(link['qber'])}   "
            f"secret key rate {_fmt(link['secret_key_rate_bps'])} bit/s   ({link['source']})"
        )
        stats = link.get("statistics")
        if stats is not None:
            unchecked = "" if link["ends_agree"] else "   (not compared at both ends)"
            lines.append(
                f"  {'':<28} so far: {stats['net_key_bits']} key bits from "
                f"{stats['accepted_blocks']} blocks ({stats['aborted_attempts']} aborted) in "
                f"{stats['link_seconds']:.3g} s of link time, {stats['sifted_bits']} sifted bits"
                f"{unchecked}"
            )
    keys = report["keys"]
    lines.append(
        "keys delivered by each KME (enc_keys as master / dec_keys as slave; fetched by its SAE):"
    )
    for node, d in keys["delivered_by_kme"].items():
        f = keys["fetched_by_sae"][node]
        lines.append(
            f"  {node:<12} {d['enc_keys']:>4} / {d['dec_keys']:>4}"
            f"   ({f['enc_keys']} / {f['dec_keys']})"
        )
    used = keys["consumed_by_purpose"]
    lines.append(
        f"keys consumed: handshakes {used['handshakes']}, rekeys {used['rekeys']}, seeds "
        + ", ".join(f"{p}: {n}" for p, n in sorted(used["seeds"].items()))
    )
    lines.append("bytes exchanged over the mesh:")
    for t in report["traffic"]:
        lines.append(
            f"  {t['link']:<28} {t['bytes_a_to_b']:>10} -> / <- {t['bytes_b_to_a']:>10}"
            f"   ({t['messages']} messages)"
        )
    lines.append(
        "time per phase: " + ", ".join(f"{k} {v:.1f} s" for k, v in report["phases_s"].items())
    )
    r = report["results"]
    agg = r["secure_aggregation"]
    lines += [
        "",
        f"secure aggregation: joint accuracy {agg['joint_accuracy']:.4f} vs centralised "
        f"{agg['centralised_accuracy']:.4f} ({agg['difference_pp']} pp), "
        f"same model at all hospitals: {agg['all_hospitals_same_model']}   "
        f"[{'OK' if agg['ok'] else 'FAILED'}]",
    ]
    dia = r["private_diagnosis"]
    lines.append(
        f"private diagnosis: {dia['patients']} patients of {dia['client']} scored by "
        f"{dia['server']} under CKKS, max |HE - plain| {dia['max_abs_score_difference']:.2e}, "
        f"diagnoses {', '.join(dia['diagnoses'])}   [{'OK' if dia['ok'] else 'FAILED'}]"
    )
    mp = r["mpyc_secure_mean"]
    lines.append(
        f"MPyC secure mean of {mp['feature']!r}: {_fmt(mp['mpyc_mean'])} "
        f"(plaintext {mp['plaintext_mean']:.6g})   [{'OK' if mp['ok'] else 'FAILED'}]"
    )
    lines.append(f"overall: {'OK' if report['ok'] else 'FAILED'}")
    return "\n".join(lines)
