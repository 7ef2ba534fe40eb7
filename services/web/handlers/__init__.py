"""The web service's use cases, one function per command, query or page; each takes the
service's typed dependencies, the signed-in person (where there is one) and a typed
command, returns a typed result (`views`), and raises domain errors
(`services.common.errors`). None speaks HTTP: cookies, forms and templates are the
entrypoint's."""

from services.web.handlers.accounts import (
    create_account,
    create_account_from_cli,
    disable_account,
    enable_account,
    ensure_account,
    list_accounts,
)
from services.web.handlers.auth import (
    account_page,
    change_password,
    current_session,
    end_session,
    login,
    login_page,
    logout,
)
from services.web.handlers.dashboard import region_page, region_profile_page  # region pages
from services.web.handlers.innovations import (  # work pages
    add_link,
    change_status,
    innovation_page,
    innovations_page,
    new_innovation_page,
    save_answers,
    save_profile,
    upload_file,
)
from services.web.handlers.live import open_region_feed  # region pages
from services.web.handlers.pages import (
    home,
    principal_of,
    settings_page,
)
from services.web.handlers.rankings import rankings_page  # region pages
from services.web.handlers.region import create_webhook, delete_webhook, register_agency
from services.web.handlers.tokens import create_token, list_tokens, revoke_token
from services.web.handlers.verification import (  # work pages
    decide,
    evidence_file,
    next_item,
    verification_item_page,
    verification_page,
)

__all__ = [
    "account_page",
    "change_password",
    "create_account",
    "create_account_from_cli",
    "create_token",
    "create_webhook",
    "current_session",
    "delete_webhook",
    "disable_account",
    "enable_account",
    "end_session",
    "home",
    "ensure_account",
    "list_accounts",
    "list_tokens",
    "login",
    "login_page",
    "logout",
    "open_region_feed",
    "principal_of",
    "rankings_page",
    "region_page",
    "region_profile_page",
    "register_agency",
    "revoke_token",
    "settings_page",
]
__all__ += [  # work pages
    "add_link",
    "change_status",
    "decide",
    "evidence_file",
    "innovation_page",
    "innovations_page",
    "new_innovation_page",
    "next_item",
    "save_answers",
    "save_profile",
    "upload_file",
    "verification_item_page",
    "verification_page",
]
