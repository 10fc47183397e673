"""Reading a Linux host for `hvo-calc inspect`: its /proc and /sys (live or captured),
the plan of its hugepage pools, and the model's figures against the kernel's counters.

Modules, in the order a run uses them: `fs` (one filesystem object rooted at a directory),
`readers` (one parser per file), `collect` (every file read, problems kept), `resolve`
(profile, kernel rules, HVO's state, boot pools), `inspector` (plan and compare),
`compare`, `summary`, `render` (the formats), `capture` (--capture) and `planfile`
(--write-config).
"""
