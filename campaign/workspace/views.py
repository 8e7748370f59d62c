"""Workspace home and the audit log."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from campaign.accounts.services import can_manage
from campaign.audit import recent_entries
from campaign.petitions.services import can_create_petitions, petitions_visible_to
from campaign.signatures.services import signature_count
from campaign.workspace.blueprint import bp, require_admin
from campaign.workspace.petitions import petition_tools


@bp.get("/")
def dashboard():
    # Moderators cannot open a petition's overview: its tools are linked from here too.
    petitions = [
        (
            petition,
            petition.text(petition.language),
            signature_count(petition.id),
            petition_tools(petition),
        )
        for petition in petitions_visible_to(current_user)
    ]
    return render_template(
        "workspace/dashboard.html",
        petitions=petitions,
        can_manage=can_manage,
        can_create=can_create_petitions(current_user),
    )


@bp.get("/audit")
def audit_log():
    require_admin()
    entries = recent_entries(before_id=request.args.get("before", type=int))
    return render_template("workspace/audit.html", entries=entries)
