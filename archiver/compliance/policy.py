"""The sentences of the City's Social Media Use Policy (Administrative Order 2012-01) each
rule checks, quoted as the adopted text has them, so a finding shows its reason in the
policy's own words (source: /work/shared/policy/bozeman-social-media-use-policy.txt)."""

from __future__ import annotations

from typing import Final

VANDALISM: Final = (
    "If a site is vandalized,discontinue the site immediately and notify the IT department. "
    "Indications that the site has been tampered with may include alteration or removal of "
    "site graphics or logos,changes to expected functionality, or unapproved content postings."
)

POLICY: Final[dict[str, str]] = {
    "aup_notice": (
        "All City social media sites must include in a prominent location on the site a link, "
        "text box, or page that contains the following Acceptable Use Policy"
    ),
    "disclosure_notice": (
        "Wherever possible, such sites shall clearly indicate that any articles and any other "
        "content posted or submitted for posting are subject to public disclosure."
    ),
    "city_domain_link": (
        "All content posted shall direct users back to the City's principle website for "
        "in-depth information, forms, documents or online services necessary to conduct "
        "business with the City."
    ),
    "it_admin": "Each site must have an employee of the IT Department listed as an administrator.",
    "reply_review": (
        "City employees and officials acting within the scope of their duties shall not respond "
        "to hosts made by members of the public on a city or non-cift social media site. "
        "Interactive social media or forums mgy be created on a case-by-case basis upon "
        "approval by the City Manager and Director of 1T."
    ),
    "principal_counterpart": (
        "All content posted to City social media sites by a City department, board, or "
        "committee shall first be posted on the City's principle website."
    ),
    "profile_change": (
        "Departments, boards and committees shall inform the IT Department of its interest in "
        "any new social media sites or administrative changes to existing sites prior to "
        "creating a new site or modifying an existing site. " + VANDALISM
    ),
    "post_burst": VANDALISM,
    "deleted_by_city": VANDALISM,
}
