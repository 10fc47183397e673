"""The verifier: what the page tables and the frame allocator hold after the engine has
acted on a window, held against what HVO promises.

It shares no code path with the work it checks, and takes its rules from `hvo_calc.rules`
(the kernel data, the pool and the profile), not from the engine. Its rooms:

    walk      its own walker (top-level table down) and the snapshot taken before the remap
    checks    the general checks of a window: tails, kept pages, copies, frees, new frames
    fast      the arithmetic path: the same checks for the usual window, as arithmetic
    ledger    every frame handed out, so none is handed out twice
    claims    the engine's figures held against what the verifier observed

Every broken rule is a `VerificationError` (exit 3) with one line saying which.

    before (snapshot after populate)          after (HVO, 6.2-7.0)
    [head][ t1 ] ... [ t7 ]  -> f0 .. f7       [copy][ t1 ] ... [ t7 ] -> c, c RO .. c RO
                                               freed: f0 .. f7, each once; c holds f0's data
    7.1+: tails -> the zone's shared tail page (one per node, zone, order), read-only.
"""

from hvo_calc.rules import WindowRules
from hvo_calc.verify.checks import columns_equal, fingerprint, general_facts, mix, pairs, rows_repeat, verify_window
from hvo_calc.verify.claims import Observed, check_pool_claims, check_window_claims
from hvo_calc.verify.fast import RunFacts, run_facts
from hvo_calc.verify.ledger import FrameLedger, ledger
from hvo_calc.verify.walk import (
    FLAGS,
    Snapshot,
    cover_view,
    fail,
    page_entries,
    pool_view,
    snapshot,
    walk_entries,
    walk_pmd,
    walk_to_pmd,
    window_keys,
)

__all__ = [
    "FLAGS",
    "FrameLedger",
    "Observed",
    "RunFacts",
    "Snapshot",
    "WindowRules",
    "check_pool_claims",
    "check_window_claims",
    "columns_equal",
    "cover_view",
    "fail",
    "fingerprint",
    "general_facts",
    "ledger",
    "mix",
    "page_entries",
    "pairs",
    "pool_view",
    "rows_repeat",
    "run_facts",
    "snapshot",
    "verify_window",
    "walk_entries",
    "walk_pmd",
    "walk_to_pmd",
    "window_keys",
]
