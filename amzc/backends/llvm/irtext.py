"""A program's native code as text for a reader (``amzc ir``, docs/llvm.md "Reading the IR"):
the IR before or after optimization, or the host's assembly.

The IR is generated with names (codegen.py ``components_module(names=True)``): each
instruction's block is named ``<component>.<index>`` and introduced here by a comment with its
source line; its values are named after it and the addresses they read or compute. Unless the
protocol is asked for, the raw IR shows only the program's Setup, Predict and Learn, without
the driver that runs them (``amz_run``: the training loop, aborts, validation, fitness)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from amzc.errors import AmzConfigError
from amzc.printer import print_instruction
from amzc.syntax import COMPONENTS, MemoryConfig, Program

from .jit import PROGRAM_OPT_LEVEL, default_jit
from .layout import Shape

STAGES = ("raw", "opt", "asm")
_LABEL = re.compile(r"^(setup|predict|learn)\.(\d+):.*$", re.MULTILINE)


def program_ir(program: Program, memory: MemoryConfig, features: int, num_tasks: int = 10,
               eval_type: str = "rms", stage: str = "raw",
               components: Sequence[str] = (), protocol: bool = False) -> str:
    """The program's module as LLVM IR before ("raw") or after ("opt") optimization, or as
    the host's assembly ("asm"). The raw IR holds the program's functions (those of
    ``components``, or all three), or with ``protocol`` the whole module; after
    optimization the components are inlined into the protocol, so "opt" and "asm" are the
    whole module and take neither option."""
    if stage not in STAGES:
        raise AmzConfigError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
    unknown = [c for c in components if c not in COMPONENTS]
    if unknown:
        raise AmzConfigError(f"unknown component {unknown[0]!r}; choose one of "
                             f"{', '.join(COMPONENTS)}")
    if stage != "raw" and (components or protocol):
        option = "--component" if components else "--protocol"
        raise AmzConfigError(f"{option} applies to --stage raw: after optimization the "
                             "components are inlined into the protocol, and --stage "
                             f"{stage} shows the whole module")
    if components and protocol:
        raise AmzConfigError("--protocol prints the whole module; leave out --component")
    components = [c for c in COMPONENTS if c in components] or COMPONENTS
    shape = Shape.build(memory, features, num_tasks, eval_type)
    jit = default_jit()
    ref = jit.program(program, shape, names=True)
    if stage == "raw":
        if protocol:
            return annotate(str(ref), program)
        omitted = ("; amz_run, the protocol that calls these (training loop, aborts, "
                   "validation, fitness), is left out: --protocol prints the whole module\n\n")
        return omitted + annotate("\n".join(str(ref.get_function(f"amz_{c}"))
                                            for c in components), program)
    jit.optimize(ref, PROGRAM_OPT_LEVEL)
    return str(ref) if stage == "opt" else jit.assembly(ref)


def annotate(text: str, program: Program) -> str:
    """Each instruction block's label line followed by its source: ``learn.2:  ; line 11:
    v2 = s3 * v0`` (LLVM's ``; preds`` comment, always the previous instruction, gives way)."""

    def label(match: re.Match[str]) -> str:
        which, index = match.group(1), int(match.group(2))
        ins = program.component(which)[index]
        source = print_instruction(ins)
        if ins.comment:
            source += f"  {ins.comment}"
        where = f"line {ins.pos.line}: " if ins.pos is not None else ""
        return f"{which}.{index}:  ; {where}{source}"

    return _LABEL.sub(label, text)
