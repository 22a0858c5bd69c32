"""The Sanic adapter: thin handlers that parse, call the rules, and render or redirect."""
