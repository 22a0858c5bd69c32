"""Who signed in: the ``Identity`` a source vouched for (``identity``), the sources' protocols
and their registry (``sources``), and the tenant file's users as the ``local`` source
(``local``). Modelled on Dex's ``connector`` package."""
