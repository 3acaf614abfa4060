"""The data twin: scenes simulated to look like the user's detections, with a truth, on
which every tracker is ranked (:func:`.advise.advise`); the recipe found on the data is
:func:`.estimate.twin_recipe`."""
