"""The installable app: web app manifest, service worker and the offline page (issue 14)."""
