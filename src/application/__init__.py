"""Use cases of the adaptive learner and the ports they talk through. No torch here."""
