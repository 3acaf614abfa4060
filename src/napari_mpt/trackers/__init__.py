"""The trackers: the MHT (:mod:`.mht`), the transformers (:mod:`.transformer`), LAP through
laptrack (:mod:`.lap`) and the MHT + transformer hybrid (:mod:`.hybrid`)."""
