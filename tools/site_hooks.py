"""mkdocs hook for the website: a notebook is a page to every plugin.

mkdocs-static-i18n rebuilds each File from its path, which drops mkdocs-jupyter's notebook wrapper,
so without this the .ipynb files would be copied as raw JSON instead of rendered.
"""

import logging

from mkdocs.structure.files import File

_markdown_page = File.is_documentation_page


def _notebook_or_markdown_page(self: File) -> bool:
    return self.src_uri.endswith(".ipynb") or _markdown_page(self)


File.is_documentation_page = _notebook_or_markdown_page

# jieba (Chinese words for the search index) announces its dictionary on every build
logging.getLogger("jieba").setLevel(logging.WARNING)
