"""The app's shared look: label colours and icons, label keys, results colours, chart style.

Both the Qt item models (``fsorg_desktop.models``) and the views read these; the models
never import a view (an import-linter contract checks it).
"""
