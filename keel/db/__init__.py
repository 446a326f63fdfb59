"""Database back-ends Keel adds to Django's."""
