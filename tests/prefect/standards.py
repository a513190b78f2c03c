"""Prefect's block standards suite, as jobnode's blocks meet it.

jobnode has no public web home, so its blocks carry no documentation or logo URL rather than a guessed one (their
documentation is docs/prefect.md, which ships with the project, and their code example). The suite's two tests that
need those URLs (one fetches the logo over the network and checks it with Pillow) are replaced by tests of that
choice; every other test of the suite runs as Prefect wrote it.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite


class JobnodeBlockStandards(BlockStandardTestSuite):
    def test_has_a_documentation_url(self, block: type[Block]) -> None:
        assert block._documentation_url is None  # no guessed link
        assert block.get_code_example()  # what the block's page shows instead

    def test_has_a_valid_image(self, block: type[Block]) -> None:
        assert block._logo_url is None  # Prefect's UI shows its default icon
