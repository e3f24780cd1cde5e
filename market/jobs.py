"""What the worker needs from the features: their outbox jobs and event subscriptions.

A job may change posts (an expiry), and the features that react to that (matches are withdrawn)
subscribe when their modules are imported, in the worker as in the web process.
"""

from market.features import load_features

load_features()
