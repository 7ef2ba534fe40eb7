"""Templates (Jinja2, autoescaped) and the static files' addresses.

Every page extends `base.html` and reads its view-model as `page`; `person` is the signed-in
person (or None), `csrf` the token its forms carry, `form` a form sent back with problems,
`done` the message of a change that succeeded. Filters: `angka2` (47,04), `waktu` (a time
in the configured zone), `peran`, `kategori`, `angka_label` (a figure's name), `alasan` (a
rule's reason), `label` (a field's name)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from services.web.entrypoints import texts

PACKAGE = Path(__file__).resolve().parents[1]
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"


class Pages:
    def __init__(self, zone: str = "WIB") -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"], default_for_string=True, default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            angka2=texts.two_decimals,
            waktu=lambda value, with_date=True: texts.local_time(value, zone, with_date=with_date),
            peran=lambda role: texts.ROLE_LABELS.get(role, role),
            kategori=lambda category: texts.CATEGORY_LABELS.get(category, category),
            angka_label=lambda figure: texts.FIGURE_LABELS.get(figure, figure),
            alasan=texts.reason,
            label=lambda name: texts.FIELD_LABELS.get(name, name),
        )
        # Each static file's address carries its content's hash: a new version is fetched
        # at once, an unchanged one can be cached for long.
        self._versions = {
            path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12] for path in STATIC.iterdir() if path.is_file()
        }
        self.env.globals.update(static=self.static, role_labels=texts.ROLE_LABELS)

    def static(self, name: str) -> str:
        return f"/static/{name}?v={self._versions.get(name, '0')}"

    def render(
        self,
        request: Request,
        template: str,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        values: dict[str, Any] = {"page": None, "person": None, "form": None, "done": None, "csrf": "",
                                  "error": None, "path": request.url.path, **context}
        person = values.get("person")
        if person is not None and not values["csrf"]:
            values["csrf"] = person.csrf_token
        html = self.env.get_template(template).render(**values)
        return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
