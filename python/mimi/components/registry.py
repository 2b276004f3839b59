"""Component IDs of the app_data_dictionary (draft-ietf-mls-extensions §app_data_dictionary)."""

from __future__ import annotations

from enum import IntEnum


class ComponentId(IntEnum):
    """MIMI components; the policy draft's IDs are its "suggested values" (§IANA)."""

    # draft-ietf-mimi-protocol §IANA
    frank_aad = 0x0020
    franking_signature_key = 0x0021
    participant_list = 0x0022
    room_metadata = 0x0023
    # draft-ietf-mimi-room-policy §IANA
    mls_operational_policy = 0x0024
    roles_list = 0x0025
    preauth_list = 0x0026
    base_room_policy = 0x0027
    status_notification_policy = 0x0028
    join_link_policy = 0x0029
    join_links = 0x002A
    link_preview_policy = 0x002B
    asset_policy = 0x002C
    logging_policy = 0x002D
    chat_history_policy = 0x002E
    bot_policy = 0x002F
    message_expiration_policy = 0x0030
