"""Protocol rules: plain functions over the tenant model and request parameters, no HTTP."""
