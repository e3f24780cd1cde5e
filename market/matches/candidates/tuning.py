"""How many rows each round reads. Module attributes, read at call time, so that tests can make
the pages tiny (every new post then takes many rounds) without another code path."""

# Rows asked for in the first round and in later ones. The first round only has to find a first
# set of picks; later rounds return only candidates that could still get in.
FIRST_PAGE = 16
# Later rounds start small, because every pair judged may raise the bar the rest must pass, and
# grow, so that a long run of candidates that do not get in costs few rounds.
NEXT_PAGES = (4, 16, 64, 256)
# The first round sorts only this many of the candidates anywhere (remote-capable ones) by their
# bound (a top-N sort instead of a full one); later rounds continue behind the last row seen.
FIRST_SORT_LIMIT = 400
