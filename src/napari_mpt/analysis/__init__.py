"""What comes after tracking: per-track and ensemble MSD, D, alpha (:mod:`.stats`)."""
