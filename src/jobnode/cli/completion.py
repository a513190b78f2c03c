"""`jobnode completion bash|zsh|fish`: the shell code that completes jobnode's commands and options (argcomplete,
as Airflow's command line does).

    eval "$(jobnode completion bash)"     # in ~/.bashrc (zsh: ~/.zshrc with `zsh`)
    jobnode completion fish > ~/.config/fish/completions/jobnode.fish
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from argcomplete.shell_integration import shellcode

if TYPE_CHECKING:
    from jobnode.cli._base import Commands

SHELLS = ("bash", "zsh", "fish")


def register(commands: Commands) -> None:
    completion = commands.add_parser(
        "completion",
        help="shell code that completes jobnode's commands (bash, zsh, fish)",
        description="Print the shell code that completes jobnode's commands and options: eval \"$(jobnode "
        'completion bash)" in ~/.bashrc, the same with zsh in ~/.zshrc, or jobnode completion fish > '
        "~/.config/fish/completions/jobnode.fish.",
    )
    completion.add_argument("shell", choices=SHELLS)
    completion.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(shellcode(["jobnode"], shell=args.shell))
    return 0
