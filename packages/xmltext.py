"""Text made fit for an XML 1.0 document (the RSS feeds, XML-RPC answers).

XML 1.0 cannot carry most control characters at all, not even as character
references, and metadata is whatever an uploader typed: one escape character
in a summary would make the whole document unparseable for every reader (or
make the serializer refuse it). They are dropped; nothing a person reads is lost.
"""

import re

# Everything outside the Char production of XML 1.0 (section 2.2).
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _NOT_XML_CHAR.sub("", text)
