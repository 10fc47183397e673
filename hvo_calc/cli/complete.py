"""Shell completion of option values, built from the data (`configs/arch/*.toml`,
`configs/kernel.toml`), never typed here: each function is a click `shell_complete`
callback. Sizes follow what is already on the line: `--page` the chosen architecture's,
`--huge` the chosen architecture's and page size's (`ctx.params`: `arch`, `base_page`).

Enable it as click does: `eval "$(_HVO_CALC_COMPLETE=bash_source hvo-calc)"` (or
`zsh_source`, `fish_source`).
"""

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

from hvo_calc.errors import InputError

if TYPE_CHECKING:
    from hvo_calc.profiles import ArchProfile


def _matching(values: Iterable[tuple[str, str]], incomplete: str) -> list[CompletionItem]:
    """(value, help) pairs whose value starts with what is typed (case-insensitive), in order, once each."""
    typed = incomplete.lower()
    first: dict[str, str] = {}
    for value, help in values:
        first.setdefault(value, help)
    return [
        CompletionItem(value, help=help or None) for value, help in first.items() if value.lower().startswith(typed)
    ]


def _arch_profiles(params: Mapping[str, Any]) -> list["ArchProfile"]:
    """The profiles of the architecture on the line (the default one if none); none if unknown."""
    from hvo_calc.profiles import DEFAULT_ARCH, all_profiles, resolve_arch

    try:
        arch = resolve_arch(str(params.get("arch") or DEFAULT_ARCH))
    except InputError:
        return []
    return [p for p in all_profiles() if p.arch == arch]


def _chosen_profile(params: Mapping[str, Any]) -> "ArchProfile | None":
    """The profile the options on the line choose (as `plan` would), or None if they choose none."""
    from hvo_calc.profiles import DEFAULT_ARCH, find_profile
    from hvo_calc.units import parse_size

    page = params.get("base_page")
    try:
        return find_profile(
            str(params.get("arch") or DEFAULT_ARCH),
            parse_size(str(page)) if page else None,
            params.get("paging"),
            params.get("mmu"),
        )
    except InputError:
        return None


def arches(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Architectures by their names, then as `uname -m` prints them."""
    from hvo_calc.profiles import all_profiles

    names = [(p.arch, "") for p in all_profiles()]
    machines = [(m, f"uname -m of {p.arch}") for p in all_profiles() for m in p.uname_machine if m != p.arch]
    return _matching(names + machines, incomplete)


def base_pages(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The chosen architecture's base page sizes."""
    from hvo_calc.units import short_size

    return _matching(((short_size(p.base_page), p.name) for p in _arch_profiles(ctx.params)), incomplete)


def hugepage_sizes(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The hugepage sizes of the profile the line chooses (the architecture's default page if none)."""
    from hvo_calc.units import short_size

    profile = _chosen_profile(ctx.params)
    if profile is None:
        return []
    return _matching(
        (
            (
                short_size(h.size),
                f"{profile.name}, mapped by a {h.mapped_by.upper()}{' run' if h.contiguous > 1 else ''}",
            )
            for h in sorted(profile.hugepage, key=lambda h: h.size)
        ),
        incomplete,
    )


def kernel_releases(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`latest` and the mainline releases the kernel data knows, newest first."""
    from hvo_calc.kernels import kernel_data

    releases = kernel_data().releases
    return _matching([("latest", releases[-1]), *((r, "") for r in reversed(releases))], incomplete)


def known_issues(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The known kernel issues' ids, with the releases each bites."""
    from hvo_calc.kernels import kernel_data

    return _matching(((i.id, f"{i.first}-{i.last}: {i.summary}") for i in kernel_data().known_issue), incomplete)


def formats(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The option's own choices (the command's formats), each said to be for people or machines."""
    from hvo_calc.reports import MACHINE_FORMATS

    choices = getattr(param.type, "choices", ())
    return _matching(((c, "for machines" if c in MACHINE_FORMATS else "for people") for c in choices), incomplete)
