"""Fill the English catalogue's empty translations from a JSON file, or list them.

    .venv/bin/python webapp/translations/fill.py              # prints {"msgid": "", ...} for every empty one
    .venv/bin/python webapp/translations/fill.py done.json    # fills them from {"msgid": "English", ...}

Run `bash webapp/translations/update.sh` before (new strings) and after (to compile).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

CATALOGUE = Path(__file__).resolve().parent / "en" / "LC_MESSAGES" / "messages.po"


def main(argv: list[str]) -> int:
    with CATALOGUE.open("rb") as f:
        catalogue = read_po(f)
    if not argv:
        print(json.dumps({m.id: "" for m in catalogue if m.id and not m.string}, ensure_ascii=False, indent=1))
        return 0
    filled = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    for message in catalogue:
        if message.id and not message.string and message.id in filled:
            message.string = filled[message.id]
    with CATALOGUE.open("wb") as f:
        write_po(f, catalogue, width=0)
    left = [m.id for m in catalogue if m.id and not m.string]
    print(f"{len(left)} string(s) still without an English translation" if left else "every string is translated")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
