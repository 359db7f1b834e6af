"""Applications built on jinglian with the same SDKs a third party would use.

Each app is a subpackage holding its contract source (``contract.py``, only
``jinglian.contract``) and functions over ``jinglian.client.Client``. Apps
import only ``jinglian.contract``, ``jinglian.client`` and ``jinglian.types``.

- ``evidence`` -- evidence preservation (存证): deposit digests of records, look them up.
"""
