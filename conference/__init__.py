"""Registration and programme system for a national public-sector conference."""
