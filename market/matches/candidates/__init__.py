"""The best few partners for a newly published post: exact, without judging every candidate.

A remote-capable post can have thousands of candidates nationwide, yet only the best few are
proposed. So SQL computes for every candidate an upper bound of the matcher's score from columns
that one index covers (`ix_posts_match_cover`, an index-only scan), hands the candidates over
best bound first, a few at a time, and the matcher judges them (`matching.check` +
`matching.score`) until no candidate left can change the choice. The choice is then exactly what
`matching.best_offers_for_need` / `best_needs_for_offer` pick from all candidates of
`queries.offers_for_need` / `needs_for_offer` (tests/market/matches/test_topk.py).

The bound `ub`, per component of `matching.score`:

- category: exact, from the candidate's category;
- language: the best weight the new post has in any of its languages (as if the candidate's
  author were native in it);
- distance: from a lower bound of the distance (the flat measure of `queries.box_conditions`,
  shrunk by a safety margin); 0.5 for a pair that can only meet remotely or is too far apart for
  more;
- availability: 0.5 when either side gives no slots, else 1;
- waiting: the new need's own waiting time, or for a new offer each need's, a minute more.

Only the rows actually read (lazily, after the sort) get a tighter bound `rub` with the language
credit worked out from the row's languages and its author's levels, and the author's vetting
fields, open matches and languages for the matcher. No ORM objects are built.

Where every component is known exactly (a remote-only pair, no slots to compare, a known waiting
time), the bound is not a sum computed in SQL but the matcher's own score for that class of pair,
bit for bit (`_class_scores`). That matters for ties, which are common among remote pairs: the
matcher breaks them by id, the SQL order is (bound descending, id ascending), and a candidate
whose bound equals the last pick's score cannot come before it when its id is larger. Elsewhere a
small margin keeps the sum above the score despite rounding.

Rounds: the first asks for 16 rows (sorting only the best 400 bounds when there are candidates
anywhere); with `limit` picks made, the next candidate's key (bound, id) sorting after the last
pick's (score, id) ends it, for every candidate not read sorts after it too (for a new offer the
keys hold the publication too, see below). Otherwise the next
round continues behind the last row read and returns only rows that could still get in (bound
and `rub` before the last pick; a cheap test of the author's native languages first), a few at a
time, for every pick judged may raise the bar.

A new offer's needs compete for its volunteer's room in `matching.fair_key` order: score, then
the longest wait, the fewest matches so far (the column `need_matches`), the id. So a new offer's
rows come in the order (bound descending, publication ascending, id ascending)
(`bound.order_key`): the first two keys of the fairness rule, as far as SQL can tell before a row
is read. The bar is the last pick's (score, publication, id); a row whose bound and publication
both equal the last pick's is still read unless that pick has had no match at all (the row may
have had fewer), whatever its id (`search._Scored.bar`). Among the many ties of remote pairs
(needs waiting a month or more score alike) the search thus stops at the first need published
after the last pick instead of reading every need of that score.

The SQL is built once per shape of new post and parameterised (`statement`); it runs with custom
plans, no parallel workers and no bitmap scans (`SETTINGS`, SET LOCAL, restored afterwards).

Two assumptions: language codes are stored normalised (`market.languages.normalise`:
lower-case primary subtag), as the candidate filter of `queries` assumes too; and the flat
distance is never longer than the great circle by more than its margin. Each judged candidate's
score is checked against its bounds; should one ever exceed them, the post is ranked the slow
way, judging every candidate (and a warning is logged).
"""

# The package's rooms, in the order of a call:
# - plan.py: the new post worked out once (the statement's shape and parameters);
# - author.py: the new post's author and the session settings (one query), `plan_for`;
# - sql.py: the few helpers and dialect differences the SQL is built with;
# - bound.py: the bound in SQL, per branch (in person / remote) and per row read;
# - rounds.py: the statement of one round, built once per shape;
# - search.py: judging the rows read, round after round, until the choice is certain (`best`).

from market.matches.candidates import tuning
from market.matches.candidates.author import SETTINGS, plan_for, restore
from market.matches.candidates.plan import Plan, Shape, make_plan
from market.matches.candidates.rounds import round_query, statement
from market.matches.candidates.search import BoundViolated, Stats, best

__all__ = [
    "SETTINGS",
    "BoundViolated",
    "Plan",
    "Shape",
    "Stats",
    "best",
    "make_plan",
    "plan_for",
    "restore",
    "round_query",
    "statement",
    "tuning",
]
