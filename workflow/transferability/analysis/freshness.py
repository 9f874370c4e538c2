"""Before any table, figure or claim: is every net the one the current config and code make?

Each metrics file records the settings, code fingerprint and settings key its net was
trained with. The start of the run writes what the current config and code resolve to
for every net (<results>/settings/nets.json, see jobsettings.py); a net whose record
differs is stale, whatever Snakemake's metadata says, and the aggregate step stops,
naming the stale nets and the command that retrains them.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

from ..atomic import write_text
from ..errors import DataError

SHOWN = 3  # stale nets named in the message; all of them go to the list file


def _flat(value, prefix: str = "") -> dict:
    if not isinstance(value, dict):
        return {prefix: value}
    out = {}
    for key, item in value.items():
        out |= _flat(item, f"{prefix}.{key}" if prefix else str(key))
    return out


def why_stale(record: dict, expected: dict) -> str | None:
    """What differs between a net's metrics record and its current settings, or None."""
    recorded, wanted = _flat(record.get("settings", {})), _flat(expected["settings"])
    keys = recorded.keys() | wanted.keys()
    if changed := sorted(k for k in keys if recorded.get(k) != wanted.get(k)):
        return ", ".join(
            f"{k} {json.dumps(recorded.get(k))} there, {json.dumps(wanted.get(k))} now"
            for k in changed[:3]
        )
    if record.get("code_fingerprint") != expected["code_fingerprint"]:
        return (
            f"trained by other code (fingerprint {record.get('code_fingerprint')} there, "
            f"{expected['code_fingerprint']} now)"
        )
    if record.get("provenance_key") != expected["key"]:
        return "trained on other inputs (data, split or base net) than the config gives now"
    return None


def check(records: list[tuple[str, dict]], manifest: str | Path, listing: str | Path) -> None:
    """Stop, naming the stale nets and how to retrain them; their full list goes to
    `listing` (a text file, one metrics path a line) when there are more than SHOWN."""
    try:
        nets = json.loads(Path(manifest).read_text())["nets"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(
            f"{manifest}: not a readable list of the nets' settings ({e}); delete it, the "
            "next `snakemake` run writes it again"
        ) from e
    expected = {os.path.normpath(p): content for p, content in nets.items()}
    stale = []
    for path, record in records:
        if (wanted := expected.get(os.path.normpath(path))) is None:
            continue  # a file handed over by hand, not a net of this config
        if reason := why_stale(record, wanted):
            stale.append((path, reason))
    if not stale:
        Path(listing).unlink(missing_ok=True)
        return
    named = "; ".join(f"{p} ({reason})" for p, reason in stale[:SHOWN])
    paths = " ".join(shlex.quote(p) for p, _ in stale)
    if len(stale) > SHOWN:
        write_text(listing, "".join(f"{p}\n" for p, _ in stale))
        named += f"; and {len(stale) - SHOWN} more, listed in {listing}"
        paths = f"$(cat {shlex.quote(str(listing))})"
    nets = "1 net was" if len(stale) == 1 else f"{len(stale)} nets were"
    raise DataError(
        f"{nets} trained with other settings or code than the config and "
        f"code give now: {named}. Retrain them, with this run's --configfile: "
        f"snakemake --cores all --forcerun {paths}"
    )
