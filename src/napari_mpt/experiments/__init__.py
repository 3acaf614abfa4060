"""Front ends for measuring: ``napari-mpt benchmark`` (:mod:`.benchmark`), the paper's
figures (:mod:`.reproduce`), and the Dask sweeps both run on (:mod:`.sweep`)."""
