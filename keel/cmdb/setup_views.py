"""Administrators' CMDB pages: CI types with their versioned attribute definitions, and relation
kinds — listed, defined, changed, taken out of use (and a type defined by mistake, deleted).

Every change goes through the actions, like the API's: they validate, version and audit it. The
Django admin shows these records read-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keel.cmdb import actions, setup_forms
from keel.cmdb.models import CIType, RelationKind
from keel.core.errors import DomainError, StaleVersion
from keel.core.permissions import is_staff_member

TYPES_PERM = "cmdb.change_citype"
KINDS_PERM = "cmdb.change_relationkind"
VERSIONS_SHOWN = 10


def _require(request: HttpRequest, *perms: str) -> None:
    """403 unless the person is staff holding every one of ``perms``."""
    user = request.user
    if not (is_staff_member(user) and all(user.has_perm(p) for p in perms)):
        raise PermissionDenied


def _first_message(exc: DomainError) -> str:
    return str(exc.message) if exc.message else "; ".join(str(m) for _f, m in exc.errors)


# --- CI types ----------------------------------------------------------------------------------


@login_required
def type_list(request: HttpRequest) -> HttpResponse:
    """Every CI type: its code, attributes, version, how many items are of it, whether in use."""
    _require(request, TYPES_PERM)
    types = CIType.objects.annotate(item_count=Count("items")).order_by("-is_active", "name")
    return render(
        request,
        "cmdb/setup/types.html",
        {"types": list(types), "can_add": request.user.has_perm("cmdb.add_citype")},
    )


def _type_page(
    request: HttpRequest,
    ci_type: CIType | None,
    form: setup_forms.TypeForm,
    rows: setup_forms.BaseAttributeFormSet,
    *,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    context: dict[str, Any] = {"ci_type": ci_type, "form": form, "rows": rows, "error": error}
    if ci_type is not None:
        context.update(
            {
                "item_count": ci_type.items.count(),
                "versions": list(
                    ci_type.versions.select_related("changed_by").order_by("-version")[
                        :VERSIONS_SHOWN
                    ]
                ),
                "kinds": sorted(
                    {k.name for k in ci_type.kinds_from.all()}
                    | {k.name for k in ci_type.kinds_to.all()}
                ),
                "can_delete": request.user.has_perm("cmdb.delete_citype"),
            }
        )
    context["has_errors"] = status >= 400
    return render(request, "cmdb/setup/type_edit.html", context, status=status)


def _more_rows(request: HttpRequest) -> bool:
    return request.method == "POST" and "more" in request.POST


@login_required
def type_new(request: HttpRequest) -> HttpResponse:
    """Define a type: its name, code, description and attribute definitions (version 1)."""
    _require(request, TYPES_PERM, "cmdb.add_citype")
    if _more_rows(request):
        data = setup_forms.with_another_row(request.POST)
        return _type_page(
            request, None, setup_forms.TypeForm(data), setup_forms.attribute_formset(data)
        )
    if request.method != "POST":
        return _type_page(request, None, setup_forms.TypeForm(), setup_forms.attribute_formset())
    form = setup_forms.TypeForm(request.POST)
    rows = setup_forms.attribute_formset(request.POST)
    if not (form.is_valid() and rows.is_valid()):
        return _type_page(request, None, form, rows, status=422)
    try:
        ci_type = actions.create_ci_type(
            actor=request.user, **form.values(), attributes=rows.definitions()
        )
    except DomainError as exc:
        setup_forms.attach_type_errors(exc, form, rows)
        return _type_page(request, None, form, rows, status=exc.status)
    messages.success(request, _("CI type “%(name)s” defined.") % {"name": ci_type.name})
    return redirect("cmdb:type", pk=ci_type.pk)


@login_required
def type_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a type; saving publishes a new version of its definitions. Items keep their
    values and are checked against the new definitions when they are next edited."""
    _require(request, TYPES_PERM)
    ci_type = get_object_or_404(CIType, pk=pk)
    if _more_rows(request):
        data = setup_forms.with_another_row(request.POST)
        return _type_page(
            request,
            ci_type,
            setup_forms.TypeForm(data, ci_type=ci_type),
            setup_forms.attribute_formset(data, ci_type=ci_type),
        )
    if request.method != "POST":
        return _type_page(
            request,
            ci_type,
            setup_forms.TypeForm(ci_type=ci_type),
            setup_forms.attribute_formset(ci_type=ci_type),
        )
    form = setup_forms.TypeForm(request.POST, ci_type=ci_type)
    rows = setup_forms.attribute_formset(request.POST, ci_type=ci_type)
    if not (form.is_valid() and rows.is_valid()):
        return _type_page(request, ci_type, form, rows, status=422)
    before = ci_type.version
    try:
        ci_type = actions.update_ci_type(
            actor=request.user,
            ci_type=ci_type,
            version=form.cleaned_data.get("version"),
            **form.values(),
            attributes=rows.definitions(),
        )
    except StaleVersion:
        ci_type.refresh_from_db()
        data = request.POST.copy()
        data["version"] = str(ci_type.version)
        form = setup_forms.TypeForm(data, ci_type=ci_type)
        rows = setup_forms.attribute_formset(data, ci_type=ci_type)
        form.is_valid()
        rows.is_valid()
        error = _(
            "Someone else changed “%(name)s” while you were editing: it is now at version "
            "%(version)s. Your values are kept below; check them and save again."
        ) % {"name": ci_type.name, "version": ci_type.version}
        return _type_page(request, ci_type, form, rows, status=409, error=error)
    except DomainError as exc:
        setup_forms.attach_type_errors(exc, form, rows)
        ci_type.refresh_from_db()
        return _type_page(request, ci_type, form, rows, status=exc.status)
    if ci_type.version == before:
        messages.info(request, _("Nothing changed."))
    else:
        messages.success(
            request,
            _("“%(name)s” saved as version %(version)s.")
            % {"name": ci_type.name, "version": ci_type.version},
        )
    return redirect("cmdb:type", pk=ci_type.pk)


@login_required
@require_POST
def type_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Take a type out of use (no new items of it; its items stay) or back into use."""
    _require(request, TYPES_PERM)
    ci_type = get_object_or_404(CIType, pk=pk)
    active = request.POST.get("active") == "1"
    try:
        actions.set_ci_type_active(actor=request.user, ci_type=ci_type, active=active)
    except DomainError as exc:
        messages.error(request, _first_message(exc))
    else:
        messages.success(
            request,
            (
                _("“%(name)s” is in use again.")
                if active
                else _("“%(name)s” is no longer in use: its items stay, no new ones are recorded.")
            )
            % {"name": ci_type.name},
        )
    return redirect("cmdb:type", pk=ci_type.pk)


@login_required
@require_POST
def type_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete a type defined by mistake; refused, with the reason, while items are of it."""
    _require(request, TYPES_PERM, "cmdb.delete_citype")
    ci_type = get_object_or_404(CIType, pk=pk)
    name = ci_type.name
    try:
        actions.delete_ci_type(actor=request.user, ci_type=ci_type)
    except DomainError as exc:
        messages.error(request, _first_message(exc))
        return redirect("cmdb:type", pk=ci_type.pk)
    messages.success(request, _("CI type “%(name)s” deleted.") % {"name": name})
    return redirect("cmdb:types")


# --- relation kinds ----------------------------------------------------------------------------


@login_required
def kind_list(request: HttpRequest) -> HttpResponse:
    """Every relation kind: its labels, which way failure travels, loops, the types it joins."""
    _require(request, KINDS_PERM)
    kinds = (
        RelationKind.objects.annotate(relation_count=Count("relations"))
        .prefetch_related("source_types", "target_types")
        .order_by("-is_active", "name")
    )
    return render(
        request,
        "cmdb/setup/kinds.html",
        {"kinds": list(kinds), "can_add": request.user.has_perm("cmdb.add_relationkind")},
    )


def _kind_page(
    request: HttpRequest,
    kind: RelationKind | None,
    form: setup_forms.KindForm,
    *,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {"kind": kind, "form": form, "has_errors": status >= 400}
    if kind is not None:
        context["relation_count"] = kind.relations.count()
    return render(request, "cmdb/setup/kind_edit.html", context, status=status)


@login_required
def kind_new(request: HttpRequest) -> HttpResponse:
    """Define a relation kind."""
    _require(request, KINDS_PERM, "cmdb.add_relationkind")
    form = setup_forms.KindForm(request.POST if request.method == "POST" else None)
    if request.method != "POST":
        return _kind_page(request, None, form)
    if not form.is_valid():
        return _kind_page(request, None, form, status=422)
    try:
        kind = actions.create_relation_kind(actor=request.user, **form.values())
    except DomainError as exc:
        form.attach(exc)
        return _kind_page(request, None, form, status=exc.status)
    messages.success(request, _("Relation kind “%(name)s” defined.") % {"name": kind.name})
    return redirect("cmdb:kind", pk=kind.pk)


@login_required
def kind_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a relation kind: a new direction re-points its relations for impact analysis;
    refusing cycles, or narrowing the allowed types, is refused over relations that break it."""
    _require(request, KINDS_PERM)
    kind = get_object_or_404(RelationKind, pk=pk)
    form = setup_forms.KindForm(request.POST if request.method == "POST" else None, kind=kind)
    if request.method != "POST":
        return _kind_page(request, kind, form)
    if not form.is_valid():
        return _kind_page(request, kind, form, status=422)
    try:
        actions.update_relation_kind(actor=request.user, kind=kind, **form.values())
    except DomainError as exc:
        form.attach(exc)
        kind.refresh_from_db()
        return _kind_page(request, kind, form, status=exc.status)
    messages.success(request, _("Relation kind “%(name)s” saved.") % {"name": kind.name})
    return redirect("cmdb:kind", pk=kind.pk)


@login_required
@require_POST
def kind_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Take a kind out of use (its relations stay and count for impact) or back into use."""
    _require(request, KINDS_PERM)
    kind = get_object_or_404(RelationKind, pk=pk)
    active = request.POST.get("active") == "1"
    try:
        actions.set_relation_kind_active(actor=request.user, kind=kind, active=active)
    except DomainError as exc:
        messages.error(request, _first_message(exc))
    else:
        messages.success(
            request,
            (
                _("“%(name)s” is in use again.")
                if active
                else _("“%(name)s” is no longer in use: its relations stay, no new ones are added.")
            )
            % {"name": kind.name},
        )
    return redirect("cmdb:kind", pk=kind.pk)
