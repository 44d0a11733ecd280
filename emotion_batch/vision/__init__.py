"""The vision stages: detect faces (MTCNN), track them (stable face ids), align them (5-point
similarity warp to the visual expert's 64x64 crop), and log mouth boxes for A/V sync."""
