"""The texts shown until an admin writes their own: one list of paragraphs per page, each a
message id, so the default comes in every UI language.

The privacy text names what Anlauf stores and for how long, with the periods the code keeps
(README, market/retention.py, market/maintenance.py); the accessibility statement follows the
parts BITV 2.0 (§ 7) asks for: scope, status, what is not accessible, how the statement was
made, a feedback channel and the enforcement procedure.
"""

from __future__ import annotations

from market.i18n import gettext
from market.posts.taxonomy import N_

TITLES: dict[str, str] = {
    "imprint": N_("Imprint"),
    "privacy": N_("Privacy policy"),
    "accessibility": N_("Accessibility statement"),
}

DEFAULTS: dict[str, tuple[str, ...]] = {
    "imprint": (
        N_(
            "This installation of Anlauf is run by the body named here. The administrators "
            "write its name, postal address and the person responsible for the content on "
            "this page."
        ),
        N_("Contact: %(email)s"),
        N_(
            "Anlauf brings together people who want to help and people who need help. The "
            "posts are written by their authors; the coordinators check them."
        ),
    ),
    "privacy": (
        N_(
            "What we store: your account (email address, name, the languages you speak, your "
            "page language, your password as a secure hash), your posts (text, category, "
            "place, time slots), your matches, your messages and your notifications. For "
            "volunteers also the vetting decisions and, where needed, the dates of the police "
            "certificate (not the certificate itself)."
        ),
        N_(
            "Who sees what: others see your posts with the place moved to a point about 1 km "
            "away. Your email address is shown only to a match partner after both of you said "
            "yes. Coordinators of your region see what they need to check posts and volunteers."
        ),
        N_(
            "How long: a post is shown for 90 days unless you renew it. A request that waits "
            "30 days asks you whether it is still needed and is closed if nobody answers. "
            "Copies of sent emails are made unreadable after 30 days. The dates of a police "
            "certificate are deleted 6 months after your last match or application that needed "
            "it, or 3 months after they were recorded if nothing like that began. Accounts "
            "not used for 24 months are warned and then deleted."
        ),
        N_(
            "Your rights: you can download everything stored about you on your account page, "
            "correct it, and delete your account at any time; then your data is erased from "
            "every table. You can also complain to a data protection authority."
        ),
        N_(
            "Cookies: only what the site needs to work (your login session and a protection "
            "against forged forms). No tracking, no advertising. The map loads its pictures "
            "from a map server, which sees your internet address."
        ),
        N_("Questions about your data: %(email)s"),
    ),
    "accessibility": (
        N_(
            "This statement is for this website of Anlauf. We want everyone to be able to "
            "use it, as the law for public bodies in Germany asks (BITV 2.0)."
        ),
        N_(
            "How accessible it is: the website is partly compatible with BITV 2.0 (EN 301 549, "
            "WCAG 2.1 level AA). Every page works without JavaScript, with the keyboard, on a "
            "small screen and from right to left in Arabic and Farsi."
        ),
        N_(
            "What is not accessible yet: the map can only be used with a mouse or a finger; "
            "the list next to it has the same content. Texts that people write in their posts "
            "are not always in plain language. Charts have their numbers in a table next to them."
        ),
        N_(
            "How this statement was made: by a self-assessment, with automatic checks (axe) of "
            "every page. We review it once a year and after larger changes."
        ),
        N_(
            "Feedback: tell us about barriers you meet, or ask for content in an accessible "
            "form, with the form below or by email to %(email)s. We answer within six weeks."
        ),
        N_(
            "Enforcement: if our answer does not help you, you can ask the conciliation body "
            "for help, free of charge: [Schlichtungsstelle nach dem "
            "Behindertengleichstellungsgesetz](https://www.schlichtungsstelle-bgg.de)."
        ),
    ),
}


def default_text(kind: str, operator_email: str | None) -> str:
    """The default in the current locale (market.i18n), paragraphs separated by blank lines."""
    email = operator_email or gettext("the address of the operator")
    return "\n\n".join(
        gettext(p, email=email) if "%(email)s" in p else gettext(p) for p in DEFAULTS[kind]
    )
