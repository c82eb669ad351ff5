"""BPMN and DMN loading: safe XML parsing of uploaded pathway files."""
