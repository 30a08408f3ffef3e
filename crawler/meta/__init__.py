"""Meta's Graph API: Instagram professional accounts (Business Discovery) and the Facebook Pages the
administration manages (published_posts), read with exact dates (docs/META.md).

    graph     the requests and what their answers mean (errors, usage headers, readings): pure
    token     where the token comes from (an environment variable or a 0600 file), never printed
    client    MetaClient: one cycle's calls, paced by the usage headers, with breakers for a refused
              token, throttling and missing permissions

The HTTP exchange itself is crawler/fetch/graph.py (only crawler/fetch/ speaks HTTP). Which route an
account takes, and what to make of an API "not found", is crawler/routes.py.
"""

from crawler.meta.client import ApiRead, ApiStatus, MetaClient
from crawler.meta.token import Token

__all__ = ["ApiRead", "ApiStatus", "MetaClient", "Token"]
