"""The dashboard at /ui (issue 14): read-only pages over the admin JSON endpoints, served with a strict CSP from
files inside the package, and the charting library from its installed package (frontend.ui.assets)."""
