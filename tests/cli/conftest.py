from tests.api.fixtures import admin, gm_dir, http, network_dir, node, sdk, solo_dir

__all__ = ["admin", "gm_dir", "http", "network_dir", "node", "sdk", "solo_dir"]
