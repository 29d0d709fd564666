/** Icon and colour of each node type (the palette, the canvas and the property panel). */
import {
  IconArrowForwardUp,
  IconClock,
  IconFlag,
  IconListNumbers,
  IconMenu2,
  IconMessageCircle,
  IconPhoneOff,
  IconPlayerPlay,
  IconToggleRight,
  IconUsersGroup,
} from "@tabler/icons-react";
import type { NodeType } from "../../lib/flow";

export const NODE_META: Record<NodeType, { icon: typeof IconFlag; color: string }> = {
  start: { icon: IconFlag, color: "green" },
  time_condition: { icon: IconClock, color: "cyan" },
  play: { icon: IconPlayerPlay, color: "indigo" },
  ivr_menu: { icon: IconMenu2, color: "violet" },
  ring_group: { icon: IconUsersGroup, color: "blue" },
  forward: { icon: IconArrowForwardUp, color: "teal" },
  queue: { icon: IconListNumbers, color: "grape" },
  voicemail: { icon: IconMessageCircle, color: "orange" },
  hangup: { icon: IconPhoneOff, color: "gray" },
  module_switch: { icon: IconToggleRight, color: "yellow" },
};

/** The drag-and-drop payload type of a palette item. */
export const PALETTE_DRAG_TYPE = "application/x-clickphone-flow-node";
