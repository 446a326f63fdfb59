"""CMDB pages: the item list and its export, the item page with impact analysis and history,
creating, editing and retiring an item, adding and removing relations,
the import (upload → column mapping → dry-run preview → confirm) and the portal's "my devices"."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keel.cmdb import actions, exporting, forms, history, importing, queries, uploads
from keel.cmdb.access import may_change_team, require_change
from keel.cmdb.lifecycle import Status
from keel.cmdb.models import CIType, ConfigurationItem
from keel.core.errors import DomainError, FieldError, NotFound, StaleVersion
from keel.core.models import Team, User
from keel.core.permissions import is_staff_member
from keel.web.htmx import is_htmx, varies_with_htmx

PAGE_SIZE = 50
GRAPH_NODES = 300
EXPIRY_WARNING_DAYS = 30
IMPORT_PERM = "cmdb.import_configurationitem"


def is_cmdb_staff(user: Any) -> bool:
    return is_staff_member(user) and user.has_perm("cmdb.view_configurationitem")


def _require_staff(request: HttpRequest) -> None:
    if not is_cmdb_staff(request.user):
        raise PermissionDenied


def _messages_of(exc: DomainError) -> list[str]:
    return [str(m) for _f, m in exc.errors] or [str(exc.message)]


# --- the list ---------------------------------------------------------------------------------


@login_required
@varies_with_htmx
def item_list(request: HttpRequest) -> HttpResponse:
    """Every item staff may see, filtered by type, status, team and text, 50 a page."""
    _require_staff(request)
    flt = queries.ItemFilter.parse(request.GET)
    errors = [str(m) for _f, m in flt.errors]
    items = queries.items_for(request.user, flt)
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    params = {k: v for k, v in request.GET.items() if k in ("q", "type", "status", "team") and v}
    today = timezone.localdate()
    base = reverse("cmdb:list")
    context: dict[str, Any] = {
        "filter": flt,
        "page": page,
        "filter_errors": errors,
        "today": today,
        "soon": today + timedelta(days=EXPIRY_WARNING_DAYS),
        "query": urlencode(params),
        "base": base,
    }
    if page.has_next():
        context["next_url"] = f"{base}?{urlencode({**params, 'page': page.next_page_number()})}"
    if page.has_previous():
        context["previous_url"] = (
            f"{base}?{urlencode({**params, 'page': page.previous_page_number()})}"
        )
    if is_htmx(request):
        return render(request, "cmdb/_table.html", context)
    context.update(
        {
            "types": list(CIType.objects.only("id", "code", "name").order_by("name")),
            "teams": list(Team.objects.filter(is_active=True).only("id", "name").order_by("name")),
            "statuses": [("active", _("Not retired")), *Status.choices],
            "can_import": request.user.has_perm(IMPORT_PERM),
            "can_add": request.user.has_perm("cmdb.add_configurationitem"),
        }
    )
    return render(request, "cmdb/list.html", context)


@login_required
def export(request: HttpRequest) -> HttpResponse:
    """The list with the same filters, as CSV or XLSX (the columns import back unchanged)."""
    _require_staff(request)
    fmt = request.GET.get("format", "csv")
    if fmt not in exporting.FORMATS:
        raise Http404
    flt = queries.ItemFilter.parse(request.GET)
    items = queries.items_for(request.user, flt).prefetch_related(None)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response: HttpResponse | StreamingHttpResponse
    if fmt == "xlsx":
        try:
            response = HttpResponse(
                exporting.to_xlsx(items),
                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        except FieldError as exc:
            for message in _messages_of(exc):
                messages.error(request, message)
            return redirect(reverse("cmdb:list"))
    else:
        response = StreamingHttpResponse(
            exporting.to_csv(items), content_type="text/csv; charset=utf-8"
        )
    response["Content-Disposition"] = f'attachment; filename="configuration-items-{stamp}.{fmt}"'
    return response


# --- one item ---------------------------------------------------------------------------------


def _item_or_404(request: HttpRequest, ref: int | str) -> ConfigurationItem:
    try:
        return queries.item_for(request.user, ref)
    except NotFound:
        raise Http404 from None


def _display(definition: dict[str, Any], value: Any) -> str:
    if value is None or value == "":
        return "—"
    if definition.get("type") == "boolean":
        return _("Yes") if value else _("No")
    return str(value)


def _attributes(item: ConfigurationItem) -> list[dict[str, str]]:
    """The item's attributes labelled by its type's definitions (undeclared keys last)."""
    values = dict(item.attributes or {})
    rows = [
        {
            "key": d["key"],
            "label": d.get("label") or d["key"],
            "value": _display(d, values.pop(d["key"], None)),
        }
        for d in item.type.attributes
    ]
    rows += [{"key": k, "label": k, "value": _display({}, v)} for k, v in sorted(values.items())]
    return rows


def _impact(request: HttpRequest, item: ConfigurationItem) -> dict[str, Any]:
    direction = request.GET.get("direction", queries.UP)
    raw_depth = request.GET.get("depth", "")
    depth = int(raw_depth) if raw_depth.isdigit() else queries.DEFAULT_DEPTH
    errors: list[str] = []
    try:
        graph = queries.impact_graph(item.pk, direction, depth, max_nodes=GRAPH_NODES)
    except FieldError as exc:
        errors = _messages_of(exc)
        direction, depth = queries.UP, queries.DEFAULT_DEPTH
        graph = queries.impact_graph(item.pk, direction, depth, max_nodes=GRAPH_NODES)
    graph["start"] = item.pk
    return {
        "graph": graph,
        "direction": direction,
        "depth": depth,
        "depths": range(1, queries.MAX_DEPTH + 1),
        "errors": errors,
        "reached": [
            {**n, "status_label": _status_label(n["status"])}
            for n in graph["nodes"]
            if n["depth"] > 0
        ],
    }


def _status_label(value: str) -> str:
    return str(Status(value).label) if value in Status.values else value


def _events(item: ConfigurationItem) -> list[dict[str, Any]]:
    """The item's history, newest first, each change without fields that stayed empty."""
    empty = (None, "", [], {})
    return [
        {
            "event": event,
            "changes": [
                (name, change[0], change[1])
                for name, change in (event.changes or {}).items()
                if isinstance(change, list)
                and len(change) == 2
                and not (change[0] in empty and change[1] in empty)
            ],
        }
        for event in history.events_of(item, limit=100)
    ]


def _as_of(request: HttpRequest, item: ConfigurationItem) -> dict[str, Any]:
    raw = request.GET.get("as_of", "").strip()
    if not raw:
        return {"as_of": ""}
    try:
        when = parse_date(raw)
    except ValueError:
        when = None
    if when is None:
        return {"as_of": raw, "as_of_error": _("Expected a date as YYYY-MM-DD.")}
    state = history.as_of(item, when)
    if state is None:
        return {"as_of": raw, "as_of_state": None, "as_of_missing": True}
    names = {
        "type": dict(CIType.objects.values_list("id", "name")),
        "owner": {},
        "assigned_to": {},
        "team": dict(Team.objects.values_list("id", "name")),
    }
    people = [state.get("owner"), state.get("assigned_to")]
    for user in User.objects.filter(pk__in=[p for p in people if p]):
        names["owner"][user.pk] = names["assigned_to"][user.pk] = str(user)
    labels = {f.name: f.verbose_name for f in ConfigurationItem._meta.get_fields() if f.concrete}
    fields = []
    for name in history.TRACKED:
        value = state.get(name)
        if name in names and value is not None:
            value = names[name].get(value, value)
        if name == "status" and value in Status.values:
            value = Status(value).label
        if name == "attributes":
            value = ", ".join(f"{k}: {v}" for k, v in (value or {}).items())
        if value in (None, "", []):
            continue
        fields.append({"label": labels.get(name, name), "value": value})
    ends = {r["source"] for r in state["relations"]} | {r["target"] for r in state["relations"]}
    item_names = queries.names_of(ends)
    relations = [
        {
            "kind": r["kind"],
            "source": item_names.get(r["source"], f"#{r['source']}"),
            "target": item_names.get(r["target"], f"#{r['target']}"),
        }
        for r in state["relations"]
    ]
    return {"as_of": raw, "as_of_state": {"fields": fields, "relations": relations}}


def _may_change(user: Any, item: ConfigurationItem, perm: str) -> bool:
    return is_cmdb_staff(user) and user.has_perm(perm) and may_change_team(user, item.team_id)


def _render_item(
    request: HttpRequest,
    item: ConfigurationItem,
    *,
    relation_form: forms.RelationForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    context: dict[str, Any] = {
        "item": item,
        "attributes": _attributes(item),
        "departments": list(item.used_by_departments.all()),
        "is_staff": is_cmdb_staff(user),
        "today": timezone.localdate(),
        "soon": timezone.localdate() + timedelta(days=EXPIRY_WARNING_DAYS),
    }
    if context["is_staff"]:
        context["can_edit"] = _may_change(user, item, "cmdb.change_configurationitem")
    if context["is_staff"] and user.has_perm("cmdb.view_relation"):
        relations = list(queries.relations_for(user, item=item.pk))
        context["relations_out"] = [r for r in relations if r.source_id == item.pk]
        context["relations_in"] = [r for r in relations if r.target_id == item.pk]
        context["impact"] = _impact(request, item)
        context["events"] = _events(item)
        context.update(_as_of(request, item))
        context["show_history"] = True
        context["can_remove_relation"] = user.has_perm("cmdb.delete_relation")
        if user.has_perm("cmdb.add_relation") and item.status != Status.RETIRED:
            context["relation_form"] = relation_form or forms.RelationForm()
    if is_htmx(request) and request.GET.get("part") == "impact" and "impact" in context:
        return render(request, "cmdb/_impact.html", context)
    return render(request, "cmdb/item.html", context, status=status)


@login_required
@varies_with_htmx
def item_detail(request: HttpRequest, ref: str) -> HttpResponse:
    """An item: its attributes, relations, impact (graph and table) and history."""
    return _render_item(request, _item_or_404(request, ref))


# --- create, edit, retire ---------------------------------------------------------------------


def _require_change(request: HttpRequest, item: ConfigurationItem, perm: str) -> None:
    """403 unless the person is CMDB staff allowed to change this item (404 out of scope)."""
    _require_staff(request)
    try:
        require_change(request.user, perm, item)
    except NotFound:
        raise Http404 from None


def _stale_message(item: ConfigurationItem) -> str:
    return _(
        "Someone else changed %(number)s while you were editing. Your values are kept below; "
        "check them against the current item and save again."
    ) % {"number": item.number}


@login_required
def item_new(request: HttpRequest) -> HttpResponse:
    """A new item: choose its type (which decides the attribute fields), then fill it in."""
    _require_staff(request)
    if not request.user.has_perm("cmdb.add_configurationitem"):
        raise PermissionDenied
    source = request.POST if request.method == "POST" else request.GET
    chooser = forms.TypeChoiceForm(source if source.get("type") else None)
    ci_type = chooser.cleaned_data["type"] if chooser.is_bound and chooser.is_valid() else None
    form = None
    status = 200
    if ci_type is not None:
        form = forms.ItemForm(request.POST if request.method == "POST" else None, ci_type=ci_type)
        if request.method == "POST":
            if form.is_valid():
                try:
                    item = actions.create_ci(actor=request.user, ci_type=ci_type, **form.values())
                except NotFound:
                    raise Http404 from None
                except DomainError as exc:
                    form.attach(exc)
                    status = exc.status
                else:
                    messages.success(request, _("%(number)s recorded.") % {"number": item.number})
                    return redirect("cmdb:item", ref=item.pk)
            else:
                status = 422
    return render(
        request,
        "cmdb/edit.html",
        {"chooser": chooser, "ci_type": ci_type, "form": form, "item": None},
        status=status,
    )


@login_required
def item_edit(request: HttpRequest, ref: str) -> HttpResponse:
    """Change an item's fields and attributes; a stale version keeps what was typed (409)."""
    item = _item_or_404(request, ref)
    _require_change(request, item, "cmdb.change_configurationitem")
    status = 200
    error = ""
    if request.method == "POST":
        form = forms.ItemForm(request.POST, ci_type=item.type, item=item)
        if form.is_valid():
            try:
                actions.update_ci(
                    actor=request.user,
                    item=item,
                    version=form.cleaned_data.get("version"),
                    **form.values(),
                )
            except NotFound:
                raise Http404 from None
            except StaleVersion:
                item = _item_or_404(request, ref)
                data = request.POST.copy()
                data["version"] = str(item.version)
                form = forms.ItemForm(data, ci_type=item.type, item=item)
                form.is_valid()
                error = _stale_message(item)
                status = 409
            except DomainError as exc:
                item = _item_or_404(request, ref)
                form.attach(exc)
                status = exc.status
            else:
                messages.success(request, _("%(number)s saved.") % {"number": item.number})
                return redirect("cmdb:item", ref=item.pk)
        else:
            status = 422
    else:
        form = forms.ItemForm(ci_type=item.type, item=item)
    return render(
        request,
        "cmdb/edit.html",
        {"form": form, "ci_type": item.type, "item": item, "error": error},
        status=status,
    )


@login_required
@require_POST
def item_retire(request: HttpRequest, ref: str) -> HttpResponse:
    """Retire an item for good (a reason is recorded in its history)."""
    item = _item_or_404(request, ref)
    _require_change(request, item, "cmdb.change_configurationitem")
    raw_version = request.POST.get("version", "")
    try:
        actions.retire_ci(
            actor=request.user,
            item=item,
            version=int(raw_version) if raw_version.isdigit() else None,
            reason=request.POST.get("reason", "").strip()[:500],
        )
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        for message in _messages_of(exc) if not isinstance(exc, StaleVersion) else [exc.message]:
            messages.error(request, message)
        return redirect("cmdb:edit", ref=item.pk)
    messages.success(request, _("%(number)s retired.") % {"number": item.number})
    return redirect("cmdb:item", ref=item.pk)


# --- relations --------------------------------------------------------------------------------


@login_required
@require_POST
def relation_add(request: HttpRequest, ref: str) -> HttpResponse:
    """Relate the item to another one; refusals (itself, a kind not allowed between these
    types, a loop with its path) are shown on the item page."""
    item = _item_or_404(request, ref)
    _require_staff(request)
    if not request.user.has_perm("cmdb.add_relation"):
        raise PermissionDenied
    form = forms.RelationForm(request.POST)
    if not form.is_valid():
        return _render_item(request, item, relation_form=form, status=422)
    try:
        other = queries.item_for(request.user, form.cleaned_data["other"])
    except NotFound:
        form.add_error("other", _("No item has this number."))
        return _render_item(request, item, relation_form=form, status=422)
    outgoing = form.cleaned_data["direction"] == forms.OUT
    source, target = (item, other) if outgoing else (other, item)
    try:
        actions.add_relation(
            actor=request.user,
            source=source,
            target=target,
            kind=form.cleaned_data["kind"],
            reason=form.cleaned_data["reason"],
        )
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        form.attach(exc, other_end="target" if outgoing else "source")
        return _render_item(request, item, relation_form=form, status=exc.status)
    messages.success(request, _("Relation added."))
    return redirect(reverse("cmdb:item", args=[item.pk]) + "#relations")


@login_required
@require_POST
def relation_remove(request: HttpRequest, ref: str, pk: int) -> HttpResponse:
    """Remove one of the item's relations (it stays in both items' history)."""
    item = _item_or_404(request, ref)
    _require_staff(request)
    relation = queries.relations_for(request.user, item=item.pk).filter(pk=pk).first()
    if relation is None:
        raise Http404
    try:
        actions.remove_relation(actor=request.user, relation=relation)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        for message in _messages_of(exc):
            messages.error(request, message)
    else:
        messages.success(request, _("Relation removed."))
    return redirect(reverse("cmdb:item", args=[item.pk]) + "#relations")


# --- the portal -------------------------------------------------------------------------------


@login_required
def my_devices(request: HttpRequest) -> HttpResponse:
    """The requester's devices: what is assigned to them and not retired."""
    today = timezone.localdate()
    return render(
        request,
        "cmdb/my_devices.html",
        {
            "devices": list(queries.devices_of(request.user)),
            "today": today,
            "soon": today + timedelta(days=EXPIRY_WARNING_DAYS),
        },
    )


# --- import -----------------------------------------------------------------------------------


def _require_import(request: HttpRequest) -> None:
    if not (is_staff_member(request.user) and request.user.has_perm(IMPORT_PERM)):
        raise PermissionDenied


def _upload_dir(token: str) -> Path:
    try:
        return uploads.folder_of(token)
    except ValueError:
        raise Http404 from None


class UploadGone(Exception):
    """The upload's folder is no longer there: confirmed already, or removed as abandoned."""


def _load_upload(request: HttpRequest, token: str) -> tuple[Path, dict[str, Any], CIType]:
    """The stored file of an import in progress, its description and type; 404 unless it is
    the requester's own. Each use keeps it another day (see ``uploads.purge_abandoned``)."""
    folder = _upload_dir(token)
    if not (folder / uploads.META).exists():
        raise UploadGone
    try:
        meta = json.loads((folder / uploads.META).read_text())
    except (OSError, ValueError):
        raise Http404 from None
    if meta.get("user") != request.user.pk:
        raise Http404
    ci_type = CIType.objects.filter(pk=meta.get("type")).first()
    if ci_type is None:
        raise Http404
    uploads.touch(folder)
    return folder / meta["stored"], meta, ci_type


@login_required
def import_upload(request: HttpRequest) -> HttpResponse:
    """Step 1: choose the type and the file. The file is kept aside, nothing is imported."""
    _require_import(request)
    form = forms.UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        name = get_valid_filename(Path(upload.name).name) or "upload.csv"
        try:
            columns = importing.columns(upload, name)
        except FieldError as exc:
            for message in _messages_of(exc):
                form.add_error("file", message)
        else:
            token = str(uuid.uuid4())
            folder = _upload_dir(token)
            folder.mkdir(parents=True, exist_ok=True)
            stored = "upload.xlsx" if name.lower().endswith(".xlsx") else "upload.csv"
            with (folder / stored).open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            meta = {
                "user": request.user.pk,
                "type": form.cleaned_data["ci_type"].pk,
                "filename": name,
                "stored": stored,
                "columns": columns,
            }
            (folder / uploads.META).write_text(json.dumps(meta))
            return redirect("cmdb:import-map", token=token)
    return render(request, "cmdb/import.html", {"form": form})


@login_required
def import_map(request: HttpRequest, token: str) -> HttpResponse:
    """Step 2 and 3: map each column, preview (a dry run showing every bad cell), confirm."""
    _require_import(request)
    try:
        path, meta, ci_type = _load_upload(request, token)
    except UploadGone:
        messages.error(
            request,
            _(
                "This import's file is no longer kept: the import was confirmed, or left "
                "unused for a day. Upload the file again to import it."
            ),
        )
        return redirect("cmdb:import")
    columns: list[str] = meta["columns"]
    choices = forms.target_choices(ci_type)
    if request.method == "POST":
        mapping = forms.mapping_from(request.POST, columns)
    else:
        mapping = forms.guess_mapping(columns, ci_type)
    context: dict[str, Any] = {
        "token": token,
        "meta": meta,
        "ci_type": ci_type,
        "choices": choices,
        "rows": [
            {"n": n, "column": column, "target": mapping.get(column, forms.IGNORE)}
            for n, column in enumerate(columns)
        ],
    }
    if request.method == "POST":
        step = request.POST.get("step", "preview")
        try:
            if step == "confirm":
                result = importing.run(
                    path.read_bytes(),
                    mapping,
                    ci_type,
                    actor=request.user,
                    filename=meta["filename"],
                )
            else:
                context["preview"] = importing.preview(
                    path.read_bytes(),
                    mapping,
                    ci_type,
                    actor=request.user,
                    filename=meta["filename"],
                )
        except FieldError as exc:
            context["errors"] = [
                f"{field}: {message}" if field and field.startswith("mapping.") else str(message)
                for field, message in exc.errors
            ] or [str(exc.message)]
        except OSError:
            raise Http404 from None
        else:
            if step == "confirm":
                shutil.rmtree(path.parent, ignore_errors=True)
                messages.success(
                    request,
                    _(
                        "Imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged."
                    )
                    % {
                        "created": result.created,
                        "updated": result.updated,
                        "unchanged": result.unchanged,
                    },
                )
                return redirect("cmdb:list")
    return render(request, "cmdb/import_map.html", context)
