"""Explain as JSON: the explanation's facts as data, the same `shown` pages as the text."""

import json

from hvo_calc import __version__
from hvo_calc.explain import ROLES, TAIL, Elided, Explanation, Hugepage, Page, ranges
from hvo_calc.explain_models import EXPLAIN_SCHEMA_VERSION, ExplainReport
from hvo_calc.units import short_size


def as_dict(ex: Explanation) -> dict[str, object]:
    """The explanation as `--format json` prints it: passed through `ExplainReport`, so it is
    what the published schema says (keys absent where the dicts leave them out)."""
    return ExplainReport.model_validate(_report_dict(ex)).model_dump(mode="json", exclude_unset=True)


def _report_dict(ex: Explanation) -> dict[str, object]:
    g, profile, kernel = ex.geometry, ex.profile, ex.kernel
    return {
        "schema_version": EXPLAIN_SCHEMA_VERSION,
        "tool": f"hvo-calc {__version__}",
        "arch": profile.arch,
        "profile": profile.name,
        "base_page": short_size(profile.base_page),
        "base_page_bytes": profile.base_page,
        "hugepage_size": short_size(g.hugepage_bytes),
        "hugepage_bytes": g.hugepage_bytes,
        "kernel": kernel.version,
        "kernel_release": kernel.release,
        "struct_page_bytes": g.struct_page_bytes,
        "hvo_active": ex.hvo_active,
        "reason": ex.reason,
        "struct_pages": g.struct_pages,
        "vmemmap_bytes": g.vmemmap_bytes,
        "vmemmap_pages": g.vmemmap_pages,
        "vmemmap_mapped_by": "pmd-leaf" if profile.vmemmap_leaf == "pmd" else "pte",
        "simulated_hugepages": len(ex.hugepages),
        "hugepages": [_hugepage_dict(h) for h in ex.hugepages],
        "pmd_splits": [s.as_dict() for s in ex.pmd_splits],
        "shared_tail_pfn": ex.shared_tail_pfn,
        "shared_tail": (
            None
            if ex.shared_tail is None
            else {
                "node": ex.shared_tail[0],
                "zone": ex.shared_tail[1],
                "order": ex.shared_tail[2],
                "pfn": ex.shared_tail_pfn,
            }
        ),
    }


def _hugepage_dict(h: Hugepage) -> dict[str, object]:
    drawn = h.shown()
    roles = [ROLES[r] for r in h.roles.tolist()]
    freed = h.freed_pfns
    return {
        "index": h.index,
        "first_pfn": h.first_pfn,
        "nr_pfns": h.nr_pfns,
        "struct_pages_vaddr": f"{h.struct_pages_vaddr:#x}",
        "vmemmap_pages": len(h),
        "kept_pages": len(h) - roles.count(TAIL),
        "tail_pages": roles.count(TAIL),
        "tails_map": h.tails_map,
        "tails_pfn": h.tails_pfn,
        "pages": [p.as_dict() for p in drawn if isinstance(p, Page)],
        "elided": [e.as_dict() for e in drawn if isinstance(e, Elided)],
        "freed_pages": len(freed),
        "freed_pfn_ranges": ranges(freed),
        "allocated_pfns": list(h.allocated_pfns),
    }


def render(ex: Explanation) -> str:
    return json.dumps(as_dict(ex), indent=2) + "\n"
