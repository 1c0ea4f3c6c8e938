"""Roles of console users and what each may do, with the API scopes each one maps to.

A viewer reads; a recruiter also runs campaigns, edits doctors and takes over conversations;
an admin also manages users, numbers, dead letters and the follow-up job. The scopes are those
of the services' named API keys (send, contacts:read, phones:read, campaigns:write, admin):
the console calls with its own key and names the acting user and role on every call, so a
service with scoped keys can hold the user to the scopes of their role.
"""

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    RECRUITER = "recruiter"
    ADMIN = "admin"


class Permission(StrEnum):
    READ = "read"
    RUN_CAMPAIGNS = "run_campaigns"
    EDIT_DOCTORS = "edit_doctors"
    HANDLE_CONVERSATIONS = "handle_conversations"
    OPERATE = "operate"  # numbers, dead letters, follow-up job
    SEE_PHONES = "see_phones"  # phone numbers in clear where a service shows them
    MANAGE_USERS = "manage_users"


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.RECRUITER: frozenset(
        {
            Permission.READ,
            Permission.RUN_CAMPAIGNS,
            Permission.EDIT_DOCTORS,
            Permission.HANDLE_CONVERSATIONS,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}

API_SCOPES: dict[Role, tuple[str, ...]] = {
    Role.VIEWER: ("contacts:read",),
    Role.RECRUITER: ("contacts:read", "campaigns:write", "send"),
    Role.ADMIN: ("contacts:read", "phones:read", "campaigns:write", "send", "admin"),
}


def may(role: str, permission: Permission) -> bool:
    """``may("viewer", Permission.RUN_CAMPAIGNS)`` is False; unknown roles may nothing."""
    try:
        return permission in PERMISSIONS[Role(role)]
    except ValueError:
        return False
