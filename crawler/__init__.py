"""crawler: an inventory of public social-media accounts, crawled politely, with evidence."""

__version__ = "0.1.0"
