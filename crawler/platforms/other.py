"""Any other site an account lives on (a municipality page, a site builder): read as a blog is read."""

from __future__ import annotations

from crawler.platforms import blog
from crawler.platforms.registry import Platform, register

PLATFORM = register(Platform(
    name="other", label="Other", parse=blog.parse, candidates=blog.candidates, aliases=("annat", "ovrigt"),
))
