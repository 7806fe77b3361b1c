"""The Runtime Center: the operators' page, served by the Function App itself (``triggers/center_api.py``).

``page`` renders the HTML shell; ``assets/`` holds the page's script modules and style sheet, shipped with the app
and served from an allow-list. The page reads the JSON API in the browser with the signed-in user's session.
"""
